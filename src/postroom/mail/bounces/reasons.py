"""Why a recipient bounced, and whether the address is dead: from the RFC 3463 status, the RFC 5321 reply code
and the diagnostic text.

The order of evidence follows Sisimai's (https://libsisimai.org/en/reason/):

1. a success status or action is `delivered`;
2. a specific status code names the reason (RFC 3463 §3, RFC 7372 §3, RFC 7505 §4); for codes that servers use
   loosely (5.1.1, 5.7.1, ...) the diagnostic may name a better one;
3. the diagnostic's phrases, in a fixed order of precedence: the phrases of common MTAs (Postfix, Exim,
   Sendmail, qmail, Exchange, Gmail, ...) written as general patterns, never per server or per sample;
4. what is left: a delay that ran out is `expired`, else `onhold` (a cause the report does not tell).

Hard (`is_hard`) means the address itself is dead, so mail to it should stop: unknown mailbox or domain, a
mailbox that moved, a domain that accepts no mail. Everything else (full, blocked, spam, policy, timeouts) is
about this message or this sender and may pass later: soft.
"""

from __future__ import annotations

import re
from typing import Final

from postroom.mail.bounces.values import Reason

MAX_DIAGNOSTIC_SCAN: Final = 2_000  # characters of diagnostic text matched against the phrases (our bound)

# (status code, reason, whether a phrase in the diagnostic may name another reason)
_STATUS_REASONS: Final[dict[str, tuple[Reason, bool]]] = {
    "1.1": (Reason.USER_UNKNOWN, True),  # bad destination mailbox address
    "1.2": (Reason.HOST_UNKNOWN, True),  # bad destination system address
    "1.3": (Reason.USER_UNKNOWN, True),  # bad destination mailbox address syntax
    "1.4": (Reason.USER_UNKNOWN, True),  # destination mailbox address ambiguous
    "1.6": (Reason.HAS_MOVED, False),  # destination mailbox has moved, no forwarding address
    "1.7": (Reason.REJECTED, False),  # bad sender's mailbox address syntax
    "1.8": (Reason.REJECTED, False),  # bad sender's system address
    "1.10": (Reason.NOT_ACCEPT, False),  # recipient address has null MX (RFC 7505 §4.2)
    "2.1": (Reason.SUSPEND, True),  # mailbox disabled, not accepting messages
    "2.2": (Reason.MAILBOX_FULL, False),  # mailbox full
    "2.3": (Reason.EXCEED_LIMIT, False),  # message length exceeds administrative limit
    "2.4": (Reason.SYSTEM_ERROR, True),  # mailing list expansion problem
    "3.0": (Reason.SYSTEM_ERROR, True),  # other or undefined mail system status
    "3.1": (Reason.SYSTEM_FULL, False),  # mail system full
    "3.2": (Reason.NOT_ACCEPT, True),  # system not accepting network messages
    "3.3": (Reason.SYSTEM_ERROR, True),  # system not capable of selected features
    "3.4": (Reason.MESG_TOO_BIG, False),  # message too big for system
    "3.5": (Reason.SYSTEM_ERROR, True),  # system incorrectly configured
    "4.0": (Reason.NETWORK_ERROR, True),  # other or undefined network or routing status
    "4.1": (Reason.NETWORK_ERROR, True),  # no answer from host
    "4.2": (Reason.NETWORK_ERROR, True),  # bad connection
    "4.3": (Reason.SYSTEM_ERROR, True),  # directory server failure
    "4.4": (Reason.HOST_UNKNOWN, True),  # unable to route
    "4.5": (Reason.SYSTEM_FULL, True),  # mail system congestion
    "4.6": (Reason.NETWORK_ERROR, False),  # routing loop detected
    "4.7": (Reason.EXPIRED, False),  # delivery time expired
    "5.0": (Reason.SYNTAX_ERROR, True),  # other or undefined protocol status
    "5.1": (Reason.SYNTAX_ERROR, True),  # invalid command
    "5.2": (Reason.SYNTAX_ERROR, True),  # syntax error
    "5.3": (Reason.POLICY_VIOLATION, True),  # too many recipients
    "5.4": (Reason.SYNTAX_ERROR, True),  # invalid command arguments
    "6.0": (Reason.CONTENT_ERROR, True),  # other or undefined media error
    "6.1": (Reason.CONTENT_ERROR, True),  # media not supported
    "6.2": (Reason.CONTENT_ERROR, True),  # conversion required and prohibited
    "6.3": (Reason.CONTENT_ERROR, True),  # conversion required but not supported
    "6.5": (Reason.CONTENT_ERROR, True),  # conversion failed
    "6.6": (Reason.CONTENT_ERROR, True),  # message content not available
    "6.7": (Reason.CONTENT_ERROR, True),  # non-ASCII addresses not permitted (RFC 6531)
    "6.9": (Reason.CONTENT_ERROR, True),  # UTF-8 string reply required (RFC 6531)
    "7.0": (Reason.SECURITY_ERROR, True),  # other or undefined security status
    "7.1": (Reason.SECURITY_ERROR, True),  # delivery not authorized, message refused
    "7.2": (Reason.SECURITY_ERROR, True),  # mailing list expansion prohibited
    "7.3": (Reason.SECURITY_ERROR, True),  # security conversion required but not possible
    "7.4": (Reason.SECURITY_ERROR, True),  # security features not supported
    "7.5": (Reason.SECURITY_ERROR, True),  # cryptographic failure
    "7.6": (Reason.SECURITY_ERROR, True),  # cryptographic algorithm not supported
    "7.7": (Reason.SECURITY_ERROR, True),  # message integrity failure
    "7.8": (Reason.SECURITY_ERROR, True),  # authentication credentials invalid (RFC 4954 §6)
    "7.9": (Reason.SECURITY_ERROR, True),  # authentication mechanism is too weak (RFC 4954 §6)
    "7.13": (Reason.SUSPEND, False),  # user account disabled (RFC 3463 registry)
    "7.14": (Reason.SECURITY_ERROR, True),  # trust relationship required
    "7.15": (Reason.SECURITY_ERROR, True),  # priority level is too low (RFC 6710)
    "7.16": (Reason.EXCEED_LIMIT, False),  # message is too big for the specified priority (RFC 6710)
    "7.17": (Reason.HAS_MOVED, False),  # mailbox owner has changed (RFC 7293)
    "7.18": (Reason.HAS_MOVED, False),  # domain owner has changed (RFC 7293)
    "7.19": (Reason.SECURITY_ERROR, True),  # RRVS test cannot be completed (RFC 7293)
    "7.20": (Reason.AUTH_FAILURE, False),  # no passing DKIM signature found (RFC 7372)
    "7.21": (Reason.AUTH_FAILURE, False),  # no acceptable DKIM signature found
    "7.22": (Reason.AUTH_FAILURE, False),  # no valid author-matched DKIM signature found
    "7.23": (Reason.AUTH_FAILURE, False),  # SPF validation failed
    "7.24": (Reason.AUTH_FAILURE, False),  # SPF validation error
    "7.25": (Reason.REQUIRE_PTR, False),  # reverse DNS validation failed
    "7.26": (Reason.AUTH_FAILURE, False),  # multiple authentication checks failed
    "7.27": (Reason.NOT_ACCEPT, False),  # sender address has null MX (RFC 7505 §4.3)
    "7.28": (Reason.SPAM_DETECTED, False),  # mail flood detected (RFC 8601 registry)
    "7.509": (Reason.AUTH_FAILURE, False),  # Microsoft 365: DMARC reject of the sending domain
    "7.606": (Reason.BLOCKED, False),  # Microsoft 365: the sending IP is on its block list
    "7.708": (Reason.BAD_REPUTATION, False),  # Microsoft 365: traffic from an IP of low reputation
}


_REPLY_PREFIX: Final = re.compile(
    r"(?:^|(?<=\s)|(?<=[\'\"(:;]))[245]\d\d(?:[ -]|$)(?:[245]\.\d{1,3}\.\d{1,3}\b)?", re.M
)

_SPACES: Final = re.compile(r"\s+")
_TIMED_OUT: Final = re.compile(r"timed? ?out|timeout", re.I)


def _phrases(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(patterns), re.I)


# The phrases of each reason, tried in this order: the first reason with a phrase in the diagnostic wins, so
# narrower reasons (mailbox full, a refused sender, auth failure) come before the broad ones (blocked, system error).
_PHRASES: Final[tuple[tuple[Reason, re.Pattern[str]], ...]] = (
    (
        Reason.MAILBOX_FULL,
        _phrases(
            r"mail ?box (?:is )?(?:full|over ?quota|size limit exceeded|has exceeded)",
            r"(?:over|exceeded?(?:s|ed)?(?: the)?|reached(?: the)?) (?:disk |storage |mailbox )?quota",
            r"quota (?:exceeded|full|violation|reached)|over ?quota|overquota|(?:disk|storage|mailbox) quota",
            r"(?:inbox|box|account|user) (?:is )?(?:full|over (?:its )?(?:quota|storage))",
            r"exceeded (?:its |the )?storage allocation|not enough (?:storage|space) (?:for|in) (?:the )?(?:mail|user)",
            r"insufficient (?:disk|storage) space (?:for|in) (?:the )?(?:mailbox|user)|full mailbox",
            r"user has (?:too many messages|exceeded)|too much mail|mail ?box full|mailfolder is full",
            r"would exceed (?:the )?(?:mailbox|quota)|has exceeded (?:his|her|the|its) (?:mailbox|storage|quota)",
        ),
    ),
    (
        Reason.EXCEED_LIMIT,
        _phrases(r"message header size exceeds limit", r"exceeds? (?:the )?(?:recipient|user)'?s? (?:size )?limit"),
    ),
    (
        Reason.MESG_TOO_BIG,
        _phrases(
            r"message (?:is )?too (?:big|large)|(?:message|mail|file) size (?:exceeds|is larger|too large|limit)",
            r"exceed(?:s|ed)? (?:the )?(?:maximum|max|fixed|allowed) (?:inbound )?(?:message )?size",
            r"max(?:imum)? message size exceeded|message length exceeds|size limit exceeded|message file too big",
            r"line limit exceeded|larger than (?:the )?(?:maximum|allowed)|too large for this",
        ),
    ),
    (
        Reason.MAILER_ERROR,
        _phrases(
            r"mailer error|pipe to |command (?:died|failed|output)|exit (?:code|status)|procmail|x-unix;",
            r"unknown mailer|local delivery (?:failed|error)|delivery program",
            r"mail(?:er|drop) (?:program|agent) (?:failed|error)",
        ),
    ),
    (
        Reason.TOO_MANY_CONN,
        _phrases(
            r"too many (?:connections|concurrent|simultaneous|sessions|smtp sessions|recipients)",
            r"connection (?:rate )?limit|frequency limited",
            r"too many messages (?:in|on|per) (?:this|one|a) (?:connection|session)",
            r"exceeded the (?:maximum )?number of connections",
        ),
    ),
    (
        Reason.SPEEDING,
        _phrases(
            r"rate limit|rate-limit|sending rate|throttl|at a rate that prevents|too many (?:messages|mails|emails) "
            r"(?:from|sent|in a short|per|within)|exceeded (?:the )?(?:hourly|daily|sending) (?:limit|quota)",
        ),
    ),
    (
        Reason.SUSPEND,
        _phrases(
            r"(?:mail ?box|account|user|address|recipient)(?:[\w@.<>\s-]{0,60}) (?:is |has been |was )?"
            r"(?:disabled|suspended|deactivated|inactive|locked|frozen|expired|closed)",
            r"(?:disabled|suspended|inactive|deactivated|locked|closed) (?:mail ?box|account|user|recipient)",
            r"(?:mail ?box|account) (?:is )?(?:not active|no longer active|unavailable for the moment)",
            r"temporar(?:y|ily) (?:locked|deactivated|disabled)|recipient suspend",
        ),
    ),
    (
        Reason.HAS_MOVED,
        _phrases(r"has been replaced by|user has moved|(?:address|mailbox) has (?:moved|changed)|no longer with "),
    ),
    (
        Reason.NO_RELAYING,
        _phrases(
            r"relay(?:ing)? (?:access )?(?:denied|not (?:permitted|allowed|authorized))|not permitted to relay",
            r"(?:unable|not allowed|cannot|can't) (?:to )?relay|we do not relay|no relaying|relay not allowed",
            r"not in my list of allowed rcpthosts|isn't in my list of allowed rcpt ?hosts|open relay",
            r"relaying (?:mail )?(?:to .{1,80} )?(?:is )?(?:denied|prohibited|not allowed)|not configured to relay",
        ),
    ),
    (
        Reason.REJECTED,  # the envelope sender, not the recipient, was refused
        _phrases(
            r"sender (?:address |domain |e-?mail )?(?:is )?(?:rejected|refused|denied|blocked|invalid|unknown|"
            r"not allowed|verify failed)|(?:invalid|unknown|bad|unverified|bogus|forged|unroutable|unrouteable) "
            r"(?:envelope )?sender|domain of sender address|sender verif(?:y|ication) (?:failed|is required)",
            r"(?:from|envelope|return) address (?:is )?(?:invalid|rejected|refused)|provide a valid from",
            r"mail from .{0,80}(?:rejected|refused|denied|not allowed)",
            r"your (?:e-?mail )?address (?:is )?(?:not allowed|banned)",
            r"sender (?:is )?(?:not|un)(?:permitted|authori[sz]ed|allowed)",
            r"(?:rejected|refused|denied) (?:for|by) policy reasons?",
        ),
    ),
    (
        Reason.NOT_COMPLIANT_RFC,
        _phrases(
            r"rfc ?(?:5322|2822|822|5321|2821|1123)|not rfc",
            r"does not (?:comply|conform) (?:with|to) (?:rfc|the standard)",
            r"duplicate (?:header|message-id|from)",
            r"multiple (?:addresses in (?:the )?from|(?:from|date|subject|to) (?:header|field))",
            r"(?:header|line) (?:is )?too long|bare (?:lf|line ?feed)",
            r"(?:missing|invalid|malformed) (?:date|from|message-id) (?:header|field)",
        ),
    ),
    (Reason.SPAM_DETECTED, _phrases(r"(?:due to|as|for) spam\b|spam classification")),
    (
        Reason.AUTH_FAILURE,
        _phrases(
            r"\bspf\b|\bdkim\b|\bdmarc\b|sender policy framework|domainkeys|authentication information",
            r"(?:sender|message) (?:authentication|verification) (?:failed|failure)|unauthenticated (?:email|mail)",
            r"authentication checks? (?:failed|did not pass)",
            r"(?:does not|doesn't|fails to) pass (?:authentication|dmarc)",
        ),
    ),
    (
        Reason.REQUIRE_PTR,
        _phrases(
            r"reverse (?:dns|lookup|hostname|mapping)|\bptr\b|\brdns\b|no (?:reverse|ptr)",
            r"cannot find your (?:hostname|reverse)|can(?:no|')t resolve (?:your|the) (?:address|ip|hostname)",
            r"ip name (?:lookup|possibly forged)|host ?name (?:lookup )?(?:does not|doesn't) match",
            r"client host rejected: cannot find|unresolvable (?:ip|host|address)",
            r"no dns (?:record|entry) for (?:your|the) ip",
        ),
    ),
    (
        Reason.BAD_REPUTATION,
        _phrases(
            r"(?:poor|bad|low|negative) (?:sender |ip |email |sending )?reputation",
            r"reputation (?:of|is|too)|sender score|senderscore|unexpected volume or user complaints",
        ),
    ),
    (Reason.VIRUS_DETECTED, _phrases(r"virus|malware|infected|trojan|worm (?:found|detected)")),
    (
        Reason.POLICY_VIOLATION,  # the narrow phrases; the broad ones come after the address reasons
        _phrases(
            r"polic(?:y|ies) violation|protocol violation|header error|because its content|content presents a potential"
        ),
    ),
    (
        Reason.SPAM_DETECTED,
        _phrases(
            r"(?<![\w.-])spam(?!haus|cop|trap| ?block| ?list)|junk mail|unsolicited|bulk (?:e-?mail|mail)",
            r"message (?:content )?(?:rejected|refused) (?:as|due to) (?:spam|content)|content (?:filter|rejected)",
            r"(?:identified|classified|detected|considered|flagged) as (?:spam|junk)|high probability of being",
            r"\buce\b|suspicious (?:content|message|url)|phish",
        ),
    ),
    (Reason.NETWORK_ERROR, _phrases(r"not found, try again|temporary lookup failure|host (?:is )?not reachable")),
    (
        Reason.NOT_ACCEPT,
        _phrases(
            r"(?:does not|doesn't|do not|will not|won't) accept (?:any )?(?:e-?)?mail|null mx|accepts? no mail",
            r"no (?:mx|mail exchanger)s? (?:record |host )?(?:found|for)|couldn't find a mail exchanger",
        ),
    ),
    (
        Reason.USER_UNKNOWN,
        _phrases(
            r"(?:user|recipient|mail ?box|address|account|addressee|local ?part|alias|person)"
            r"s? (?:is |was )?(?:unknown|not (?:found|known|exist|listed|valid)|does(?: not|n'?t) exist|invalid)",
            r"(?:unknown|invalid|non-?existent|bad|unrouteable|illegal|undeliverable|no such) "
            r"(?:user|recipient|mail ?box|address|account|addressee|local|alias|destination mailbox|e-?mail|person)",
            r"(?:no|not an?) (?:valid |such |active )?(?:user|recipient|mail ?box|account|address)(?:es)?"
            r" (?:here|by that name|at this address|on this (?:system|server)|with that name|found|in )",
            r"no mailbox here|unknown (?:or illegal )?alias",
            r"address (?:does not|doesn't) exist|doesn'?t have an? .{0,40} account",
            r"user (?:doesn't|does not) exist|mailbox unavailable",
            r"mailbox not available|recipient address rejected(?:\.|\s*$)",
            r"no such (?:user|recipient|mailbox|address|person|account)",
            r"not our customer|unknown local part|mailbox (?:is )?unavailable",
            r"(?:user|recipient|mailbox|address) lookup (?:failed|error)",
            r"account (?:that you tried to reach )?does not exist",
            r"not a (?:valid|known) (?:user|recipient|mailbox)|is not a valid mailbox|recipient not found",
            r"relay recipient table|local recipient table|virtual (?:mailbox|alias) table",
            r"(?:address|recipient|recipient name) (?:is not recognized|could(?:n't| not) be found)",
            r"recipient address rejected: (?:access denied|undeliverable|user)",
        ),
    ),
    (
        Reason.HOST_UNKNOWN,
        _phrases(
            r"(?:host|domain|mx)(?: name)? (?:is )?(?:unknown|not found|(?:does|may)(?: not|n'?t) exist|invalid"
            r"|lookup failed)",
            r"domain (?:is )?(?:not reachable|unreachable)|bad destination system|host \S+ not found",
            r"(?:unknown|invalid|no such|non-?existent|unrouteable(?: mail)?|bad) (?:host|domain)",
            r"host or domain name not found|name or service not known|no (?:mx|a|mail exchanger) (?:record|host)s?",
            r"(?:domain|host) (?:name )?not (?:found|resolv)|recipient domain",
            r"dns (?:error|lookup failed) for (?:domain|host)",
            r"unable to resolve (?:the )?(?:host|domain|mx)|nxdomain|domain (?:is )?not (?:served|hosted) here",
            r"(?<![\w@.-])(?:[a-z0-9-]+\.)+[a-z]{2,} does(?: not|n'?t) exist",
        ),
    ),
    (
        Reason.FILTERED,
        _phrases(
            r"filtered|refused by (?:the )?recipient|user refuses|recipient(?:'s)? (?:policy|rule|filter)",
            r"(?:is )?only accepting mail from|not accepting mail from|you have been blocked by the recipient",
            r"rejected by (?:the )?(?:recipient|user|mailbox) (?:rule|filter|setting)",
            r"due to (?:the )?(?:recipient|receiver)s?'? ?policy|user reject|bounced address",
        ),
    ),
    (
        Reason.BLOCKED,
        _phrases(
            r"blocked|block ?list|black ?list|listed (?:in|on|at|by)|dnsbl|\brbl\b|spamhaus|spamcop|barracuda",
            r"client host (?:\[[^\]]*\] )?rejected|(?:your|the|sending) (?:ip|host|server|network|mta)(?: address)? "
            r"(?:\S+ )?(?:is |has been )?(?:not allowed|rejected|refused|banned|denied|black)",
            r"connection (?:rejected|refused|denied) (?:by|from|due)|(?:rejected|refused) (?:connection|your ip)",
            r"banned|access (?:is )?(?:denied|refused|restricted) (?:for|to|from) (?:your|the|ip)|refused to talk",
            r"not allowed to connect|(?:poor|dynamic|residential|dial-?up) (?:ip|address|pool)|smtp server of your isp",
            r"too many (?:bad|invalid) (?:recipients|commands)",
        ),
    ),
    (
        Reason.POLICY_VIOLATION,
        _phrases(
            r"polic(?:y|ies) (?:reasons|restriction)|violat(?:es|ed|ion of) (?:our |the |local )?(?:polic|terms)",
            r"(?:local|site|security|content|acceptable use|mail) policy|prohibited|not (?:allowed|permitted) by polic",
            r"attachment (?:type )?(?:is )?(?:not allowed|blocked|prohibited|rejected)",
            r"(?:banned|forbidden) (?:attachment|file)",
            r"denied by policy",
        ),
    ),
    (Reason.REJECTED, _phrases(r"access denied")),
    (
        Reason.SECURITY_ERROR,
        _phrases(
            r"authentication (?:is )?required|must (?:be )?authenticat",
            r"(?:smtp )?auth(?:entication)? failed|unauthenticated senders?",
            r"tls (?:is )?required|starttls|(?:must|need to) (?:issue|use) (?:a )?starttls",
            r"certificate|encryption required",
            r"security (?:policy|reasons|error)|not authori[sz]ed to send",
            r"unauthori[sz]ed|permission denied|delivery not authori[sz]ed",
        ),
    ),
    (
        Reason.SYSTEM_FULL,
        _phrases(
            r"insufficient (?:system storage|disk space)|(?:mail )?system (?:is )?full",
            r"disk (?:is )?full|out of (?:disk|storage)",
        ),
    ),
    (
        Reason.CONTENT_ERROR,
        _phrases(
            r"content (?:error|type|encoding)|media error",
            r"malformed (?:message|mime|header|content)|illegal (?:character|header)",
            r"(?:invalid|bad|broken) (?:mime|header|message|content|encoding)|8[- ]?bit|message (?:structure|format)",
        ),
    ),
    (
        Reason.SYNTAX_ERROR,
        _phrases(
            r"syntax error|command (?:unrecognized|not recognized|not implemented)|bad sequence of commands",
            r"parameter not implemented|unrecognized command",
        ),
    ),
    (
        Reason.NETWORK_ERROR,
        _phrases(
            r"connection (?:refused|timed? ?out|reset|closed|lost|dropped)|(?:lost|no) connection|timed out",
            r"no route to host|network (?:is )?unreachable|could not connect|unable to connect|can(?:no|')t connect",
            r"name ?server|name service error|\bdns\b|mail (?:loop|loops back)",
            r"loops back to myself|routing loop|too many hops|hop count",
            r"temporary lookup failure|host (?:is )?(?:down|unreachable|not responding)|establish an smtp connection",
        ),
    ),
    (
        Reason.EXPIRED,
        _phrases(
            r"(?:delivery|retry|queue|message) (?:time(?:out)?|period|lifetime)? ?(?:has )?"
            r"(?:expired|exceeded|timeout)",
            r"giving up|gave up|given up|too long in (?:the )?queue|been (?:in the )?queued? (?:for )?too long",
            r"(?:could not|couldn't|unable to|was not|has not been|could not be) (?:be )?deliver(?:ed)? (?:with)?in",
            r"message expired|expired after|no further (?:delivery )?attempts",
            r"retry time(?:out)? (?:not reached|exceeded)",
            r"maximum (?:time|delivery time|retries|retry count)|have not been able to deliver",
            r"envelope expired|failing for a long time|retry timeout exceeded",
        ),
    ),
    (
        Reason.SYSTEM_ERROR,
        _phrases(
            r"system error|internal (?:server )?error|server error|local error|temporary (?:failure|error|problem)",
            r"service (?:is )?(?:currently )?(?:unavailable|not available)|(?:temporarily|currently) unavailable",
            r"unable to process|try again later|out of memory|configuration error|server busy|transaction failed",
            r"resources? (?:temporarily )?unavailable",
        ),
    ),
)

# The address is dead whatever the status class (Sisimai's hardbounce); `notaccept` depends on the class.
HARD_REASONS: Final = frozenset({Reason.USER_UNKNOWN, Reason.HOST_UNKNOWN, Reason.HAS_MOVED})
NEVER_HARD: Final = frozenset({Reason.UNDEFINED, Reason.ON_HOLD, Reason.DELIVERED, Reason.FEEDBACK})
# reasons a status code names only loosely (servers send 5.0.0, 5.5.0 or 5.7.1 for most anything): the report's
# prose about the recipient, when it names a reason, is the better evidence
WEAK_STATUS_REASONS: Final = frozenset(
    {Reason.SYSTEM_ERROR, Reason.SECURITY_ERROR, Reason.NETWORK_ERROR, Reason.SYNTAX_ERROR, Reason.ON_HOLD}
)
DELIVERED_ACTIONS: Final = frozenset({"delivered", "relayed", "expanded"})  # RFC 3464 §2.3.3
# what a refusal before RCPT TO cannot mean, though its words may sound like it (classify_reason)
_NOT_ABOUT_THE_RECIPIENT: Final = frozenset(
    {Reason.USER_UNKNOWN, Reason.HOST_UNKNOWN, Reason.ON_HOLD, Reason.UNDEFINED, Reason.SYNTAX_ERROR}
)


def find_phrase_reason(diagnostic: str) -> Reason | None:
    """The reason the diagnostic's words name, or None when none of the phrases is in it."""
    text = diagnostic[:MAX_DIAGNOSTIC_SCAN]
    for reason, pattern in _PHRASES:
        if pattern.search(text):
            return reason
    return None


def find_status_reason(status: str) -> tuple[Reason, bool] | None:
    """The reason a specific RFC 3463 code names and whether phrases may refine it; None for generic codes."""
    klass, _, rest = status.partition(".")
    if klass not in ("4", "5") or not rest:
        return None
    return _STATUS_REASONS.get(rest)


def flatten_reply(text: str) -> str:
    """The words of a (multi-line) SMTP reply without its codes, so "550-5.7.1 multiple 550 5.7.1 addresses"
    reads "multiple addresses" (RFC 5321 §4.2.1 repeats the codes on each line)."""
    return _SPACES.sub(" ", _REPLY_PREFIX.sub(" ", text[:MAX_DIAGNOSTIC_SCAN]))


def classify_reason(
    status: str, reply_code: str, diagnostic: str, action: str = "", *, context: str = "", command: str = ""
) -> Reason:
    """The reason for one recipient.

    `diagnostic` is the remote server's reply (or the MTA's line about the recipient); `context` is the report's
    own prose about the recipient, read only when the diagnostic and a specific status name no reason; `command`
    is the SMTP command the refusal answered (`find_smtp_command`).
    """
    lowered_action = action.strip().lower()
    if status.startswith("2") or lowered_action in DELIVERED_ACTIONS:
        return Reason.DELIVERED
    named = find_status_reason(status)
    if (named is None or named[1]) and lowered_action == "delayed":
        return Reason.EXPIRED  # still being retried: whatever the last attempt said, the message is late
    reason = _read_reason(status, reply_code, diagnostic, action=lowered_action, context=context, named=named)
    return _correct_by_dialogue(reason, status, reply_code, diagnostic, action=lowered_action, command=command)


def _read_reason(
    status: str,
    reply_code: str,
    diagnostic: str,
    *,
    action: str,
    context: str,
    named: tuple[Reason, bool] | None,
) -> Reason:
    """What the status code and the words say, in their order of trust (docs/architecture/bounces.md)."""
    reason: Reason | None = named[0] if named is not None and not named[1] else None
    if reason is None:
        reason = find_phrase_reason(flatten_reply(diagnostic))
    if reason is None and named is not None and named[0] not in WEAK_STATUS_REASONS:
        reason = named[0]
    if reason is None and context:
        reason = find_phrase_reason(flatten_reply(context))
    if reason is None and named is not None:
        reason = named[0]
    if reason is not None:
        return reason
    transient = status.startswith("4") or reply_code.startswith("4")
    if action == "delayed" or (transient and action == "failed"):
        return Reason.EXPIRED  # a temporary failure the MTA stopped retrying
    return Reason.ON_HOLD if status or reply_code or diagnostic.strip() else Reason.UNDEFINED


def _correct_by_dialogue(
    reason: Reason, status: str, reply_code: str, diagnostic: str, *, action: str, command: str
) -> Reason:
    """Corrections from the SMTP dialogue and the status class, which outrank the words."""
    temporary = status.startswith("4") or (not status and reply_code.startswith("4"))
    if reason is Reason.NETWORK_ERROR and temporary and action == "failed" and _TIMED_OUT.search(diagnostic):
        return Reason.EXPIRED  # the MTA retried a host that timed out until its queue lifetime ran out
    if reason is Reason.HOST_UNKNOWN and temporary:
        return Reason.NETWORK_ERROR  # a name lookup that failed for now (SERVFAIL, timeout): not a dead host
    if command in ("MAIL", "HELO", "CONN") and reason in _NOT_ABOUT_THE_RECIPIENT:
        # Refused before any recipient was named: about our sender address (MAIL FROM) or our host (the greeting,
        # HELO), never a dead recipient whatever the words say ("... does not exist", "Invalid domain name").
        return Reason.REJECTED if command == "MAIL" else Reason.BLOCKED
    if reason is Reason.USER_UNKNOWN and (status[2:4] == "7." or command == "DATA"):
        # A security/policy status (RFC 3463 X.7.x) with "unknown user" words, or a refusal of the content after
        # the recipient was accepted at RCPT TO: a filter, not proof of a dead mailbox.
        return Reason.FILTERED
    return reason


def is_hard(reason: Reason, status: str, reply_code: str = "") -> bool:
    """Whether the address is dead: unknown mailbox or domain, moved, or a domain that accepts no mail at all.

    A domain that refuses mail (`notaccept`) is hard only when the refusal is permanent (a 5 status or reply code)
    or says nothing either way; Sisimai's `hardbounce` follows the same rule.
    """
    if reason in NEVER_HARD:
        return False
    if reason in HARD_REASONS:
        return True
    if reason is not Reason.NOT_ACCEPT:
        return False
    evidence = status or reply_code
    return not evidence or evidence.startswith("5")
