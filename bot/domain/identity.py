"""Identity facts as consumers type them: ZIP codes, phone numbers, account references."""
from __future__ import annotations

import re
from typing import Optional

_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_ZIP = re.compile(r"(?<![\d/.-])(\d{5})(?:-\d{4})?(?![\d/.-])")
_ACCOUNT_REF = re.compile(r"\b([A-Za-z]{2,4})-?(\d{5})\b")


def is_e164(address: str) -> bool:
    return bool(_E164.match(address or ""))


def phone_from_address(address: str) -> Optional[str]:
    """The E.164 number behind a channel address ('+1415...' or 'whatsapp:+1415...')."""
    candidate = (address or "").split(":", 1)[-1]
    return candidate if is_e164(candidate) else None


def parse_postal_code(text: str) -> Optional[str]:
    """The first five-digit ZIP code in `text` that is not part of a date or a reference."""
    match = _ZIP.search(_ACCOUNT_REF.sub(" ", text or ""))
    return match.group(1) if match else None


def parse_account_ref(text: str) -> Optional[str]:
    """An account reference like 'BW-10001', typed as 'bw10001' too."""
    match = _ACCOUNT_REF.search(text or "")
    if not match:
        return None
    return f"{match.group(1).upper()}-{match.group(2)}"
