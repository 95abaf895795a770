"""The toolkit's demo on embedded data: metamers of a measured-spectra scene through the camera.

Part 1 (default): prints a table (alpha, metamer mode, imaging setting, RGB difference in DN under paired
noise, the noise floor of two independent exposures, the detectability |d|/sigma, spectral RMSE) and
writes it with its provenance to ``--out`` (default ``results/demo``).
``--table5 RESULTS``: part 2's summary instead: per method, the four metrics on the originals and on the
metamers with the paired lower bound, from ``RESULTS/table5/{original,metamer}``, and the bound at work: the
rpr2 map fitted to each validation scene's own originals (an oracle), on the originals and the metamers;
adds them to the model cards.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from pathlib import Path

from hsi.cli_types import HelpFormatter, camera_help, finite_float, non_negative_float, psf_help
from hsi.demo import (add_table5_to_model_cards, format_table, format_table5, run_metamer_demo, scene_oracle,
                      table5_records)
from hsi.device import resolve_device
from hsi.errors import ToolkitError, run_main
from hsi.io import atomic_write_json, atomic_write_text, provenance
from hsi.layout import is_no_psf


def _demo(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--alphas", type=finite_float, nargs="+", default=[-1.0, 0.0, 0.5, 2.0], help="metameric-black coefficients")
    ap.add_argument("--modes", nargs="+", default=["clip", "exact"], choices=["clip", "exact"], help="metamer modes")
    ap.add_argument("--npe", type=non_negative_float, default=1000.0, help="Poisson noise: photo-electrons at signal 1.0")
    ap.add_argument("--psf_name", default="double_gauss_50mm_F1.8", help=psf_help())
    ap.add_argument("--psf_path", default="PSFs", help="folder of the PSF files")
    ap.add_argument("--camera", default="basler_a2A5320-23ucBAS", help=camera_help())
    ap.add_argument("--seed", type=int, default=0, help="noise seed")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:k")
    ap.add_argument("--out", default="results/demo", help="folder for the table and its provenance")
    ap.add_argument("--table5", default=None, metavar="RESULTS", help="print part 2's Table V summary of RESULTS")
    args = ap.parse_args(argv)
    if args.table5:
        return _table5(Path(args.table5))
    psf = None if is_no_psf(args.psf_name) else args.psf_name
    resolve_device(args.device)  # on the CPU: the thread policy of hsi.device (OMP_NUM_THREADS, idle cores)
    t0 = time.time()
    print(f"[demo] metamers of a ColorChecker scene (measured reflectances x D65) through {args.camera}")
    rows = run_metamer_demo(args.alphas, args.modes, args.npe, psf, args.psf_path, args.camera, args.seed, args.device)
    table = format_table(rows)
    out = Path(args.out)
    atomic_write_text(out / "metamer_table.md", table + "\n")
    atomic_write_json(out / "metamer_table.json", provenance(args=vars(args), rows=[asdict(r) for r in rows]))
    print(table)
    print(f"[demo] done in {time.time() - t0:.1f} s; table written to {out / 'metamer_table.md'}")
    return 0


def _table5(results: Path) -> int:
    records = table5_records(results)
    if not records:
        raise ToolkitError(f"no Table V validations under {results / 'table5'} (run "
                           "scripts/table5_metamer_validation.sh)")
    metamer_records = [recs["metamer"] for recs in records.values() if "metamer" in recs]
    oracle = scene_oracle(metamer_records[0]) if metamer_records else None
    text = format_table5(records, oracle)
    atomic_write_text(results / "table5_summary.md", text)
    cards = add_table5_to_model_cards(records)
    print(text, end="")
    print(f"[demo] summary written to {results / 'table5_summary.md'}; model cards: "
          + ", ".join(str(c) for c in cards))
    return 0


def main(argv=None) -> int:
    """The script (``argv`` default ``sys.argv[1:]``); a user error prints ``error: ...`` and returns 2."""
    return run_main(_demo, argv)


if __name__ == "__main__":
    raise SystemExit(main())
