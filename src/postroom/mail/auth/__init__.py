"""Sender authentication (SPF, DKIM, DMARC, ARC, Authentication-Results): pure, DNS through a given Resolver.

See docs/architecture/sender-authentication.md.
"""

from postroom.mail.auth.arc import ArcResult, ArcVerdict, validate_arc
from postroom.mail.auth.authresults import UpstreamAuthentication, UpstreamResult, parse_authentication_results
from postroom.mail.auth.dkim import DkimResult, DkimSignatureVerdict, verify_dkim
from postroom.mail.auth.dmarc import DmarcPolicy, DmarcRecord, DmarcResult, DmarcVerdict, evaluate_dmarc
from postroom.mail.auth.offline import OfflineAuthSummary, summarise_offline_auth
from postroom.mail.auth.resolver import (
    DnsPythonResolver,
    DnsTemporaryError,
    InMemoryZone,
    MxRecord,
    Resolver,
    ZoneRecord,
)
from postroom.mail.auth.sender import SenderAuthentication, evaluate_sender, judge_spoof
from postroom.mail.auth.spf import SpfResult, SpfVerdict, check_spf

__all__ = [
    "ArcResult",
    "ArcVerdict",
    "DkimResult",
    "DkimSignatureVerdict",
    "DmarcPolicy",
    "DmarcRecord",
    "DmarcResult",
    "DmarcVerdict",
    "DnsPythonResolver",
    "DnsTemporaryError",
    "InMemoryZone",
    "MxRecord",
    "OfflineAuthSummary",
    "Resolver",
    "SenderAuthentication",
    "SpfResult",
    "SpfVerdict",
    "UpstreamAuthentication",
    "UpstreamResult",
    "ZoneRecord",
    "check_spf",
    "evaluate_dmarc",
    "evaluate_sender",
    "judge_spoof",
    "parse_authentication_results",
    "summarise_offline_auth",
    "validate_arc",
    "verify_dkim",
]
