"""Convert the raw CAVE dataset to the toolkit's format: 31 16-bit PNGs per scene (/65535) -> Train_Spec/<scene>.mat, 31 x 512 x 512.

    python ./dataset_tools/prepare_CAVE.py --dataset_root /path/to/raw/CAVE --dest_root ./datasets/CAVE/

Resumable (converted scenes are skipped; --overwrite redoes them), stops on a bad input naming the file
(--skip_bad skips it with a warning). The paper's split lists are copied to <dest_root>/split_txt if
missing. The logic is in hsi.convert.
"""
from hsi.convert import converter_cli

if __name__ == "__main__":
    raise SystemExit(converter_cli("CAVE"))
