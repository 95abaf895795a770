"""Convert the raw KAUST dataset to the toolkit's format: .mat key 'hsi' (v5 or v7.3, 34 bands 400-730 nm, /4095, bands 400-700 kept) -> Train_Spec/<scene>.mat, 31 x 512 x 512.

    python ./dataset_tools/prepare_KAUST.py --dataset_root /path/to/raw/KAUST --dest_root ./datasets/KAUST/

Resumable (converted scenes are skipped; --overwrite redoes them), stops on a bad input naming the file
(--skip_bad skips it with a warning). The paper's split lists are copied to <dest_root>/split_txt if
missing. The logic is in hsi.convert.
"""
from hsi.convert import converter_cli

if __name__ == "__main__":
    raise SystemExit(converter_cli("KAUST"))
