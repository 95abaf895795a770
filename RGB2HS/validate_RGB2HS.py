"""Validate a trained network on original or metamer data of any dataset (Tables III, IV, V).

Reads ``<dataset_path>/<NAME>/<noise><npe>_<psf>/Train_Metamer_RGB/<scene>_{original|metamer}.<fmt>``
against ``Train_Spec/<scene>.mat`` or ``Train_Metamer_Spec/<scene>_metamer.mat`` for the scenes of the
valid list. Loads checkpoints of this toolkit, of the paper's code and of the MST++ model zoo. Writes,
under ``<result_root>``: ``<run>.txt`` (the paper's summary: MRAE, RMSE, PSNR, SAM),
``<run>/per_image.csv``, ``<run>/summary.json`` and with ``--save_recon`` the reconstructions
``<run>/<scene>_{std|metamer}.mat``, where ``<run>`` = ``<NAME>_<noise><npe>_<psf>_<fmt>_<method>_{std|metamer}``.
ICVL is evaluated on the centre 512 x 512, as in the paper.
"""
import argparse

from hsi.train.cli import str2bool, validation_options_from_args
from hsi.train.experiments import run_validation


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--psf_name", default=None)
    ap.add_argument("--dataset_path", default="./datasets")
    ap.add_argument("--dataset_name", default="ARAD_1K")
    ap.add_argument("--method", default="mst_plus_plus")
    ap.add_argument("--pretrained_root", default="./RGB2HS/model_zoo/mst_plus_plus.pth", help="checkpoint file")
    ap.add_argument("--result_root", default="./RGB2HS/validate_exp")
    ap.add_argument("--metamer", type=str2bool, default=False, help="True: metamer data; False: originals")
    ap.add_argument("--noise_type", default="poisson", choices=["poisson", "gaussian"])
    ap.add_argument("--npe", type=int, default=0)
    ap.add_argument("--rgb_format", default="png", choices=["png", "jpg", "all"])
    ap.add_argument("--gpu_id", default=None, help="GPU index")
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:k")
    ap.add_argument("--split", default="valid", choices=["valid", "train"], help="scene list to evaluate")
    ap.add_argument("--save_recon", type=str2bool, default=False, help="write the reconstructions (.mat)")
    ap.add_argument("--border", type=int, default=0, help="pixels cropped from every border (MST++ protocol: 128)")
    ap.add_argument("--self_ensemble", type=str2bool, default=False, help="8-way flip/transpose test-time ensemble")
    ap.add_argument("--amp", type=str2bool, default=False, help="bf16 autocast")
    ap.add_argument("--srf_name", default=None, help="camera the data was rendered with (ssrnet input)")
    ap.add_argument("--skip_existing", type=str2bool, default=False,
                    help="skip when the run folder already holds a summary made from this checkpoint")
    ap.add_argument("--tag", default=None, help="label for scripts/report.py, '<table>/<column>' (e.g. table5/metamer)")
    run_validation(validation_options_from_args(ap.parse_args(argv)))


if __name__ == "__main__":
    from hsi.errors import run_main
    raise SystemExit(run_main(main))
