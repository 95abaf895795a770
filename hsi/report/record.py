"""The validation record type, re-exported from its home ``hsi.records`` (the validation code writes it,
the report reads it; it lives below both)."""
from hsi.records import (PAIR_BOUND_METRICS, NotAValidationRecord, RecordError, ValidationRecord,  # noqa: F401
                         check_tag, parse_created)
