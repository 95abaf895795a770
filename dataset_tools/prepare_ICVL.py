"""Convert the raw ICVL dataset to the toolkit's format: .mat key 'rad' (/4095, rotated upright) -> Train_Spec/<scene>.mat, 31 x 1392 x 1300.

    python ./dataset_tools/prepare_ICVL.py --dataset_root /path/to/raw/ICVL --dest_root ./datasets/ICVL/

Resumable (converted scenes are skipped; --overwrite redoes them), stops on a bad input naming the file
(--skip_bad skips it with a warning). The paper's split lists are copied to <dest_root>/split_txt if
missing. The logic is in hsi.convert.
"""
from hsi.convert import converter_cli

if __name__ == "__main__":
    raise SystemExit(converter_cli("ICVL"))
