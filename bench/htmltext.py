"""HTML-to-text benchmark (not a test): the layout walk against inscriptis on every HTML body of the corpus.

usage: python bench/htmltext.py [CORPUS] [--rounds 7]

CORPUS (default ../shared/corpus) is searched for text/html parts of mail files (.eml .box .msg .message
.mbox), for .html files and for the HTML bodies of Zammad's parser expectations (mail/*.yml). Each round
converts every document with both converters, alternating per document: `before` is html_to_text as it was
(inscriptis's get_text with its default "relaxed" profile, kept here verbatim), `after` is
`postroom.mail.parse.htmltext.html_to_text`. A document's time is its best of the rounds (other processes on
a shared machine only ever add time). Prints microseconds per document (mean, p50, p99), the speed-up of the
mean, which converter `after` used, and how far the texts agree: the same words as `before` (white space
ignored), and the same text as inscriptis on the same tree (the fallback, strict profile).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "src"))

from benchmail import pct  # noqa: E402 - bench/benchmail.py, beside this file
from inscriptis import get_text  # noqa: E402
from inscriptis.model.config import ParserConfig  # noqa: E402

from postroom.mail.parse.htmltext import html_to_text_inscriptis, render_html  # noqa: E402
from postroom.mail.parse.payloads import read_text  # noqa: E402

MAIL_SUFFIXES = (".eml", ".box", ".msg", ".message", ".mbox")
_BEFORE_CONFIG = ParserConfig(display_links=False, display_images=False)
_BLANK_RUNS = re.compile(r"\n\n\n+")
_CLOSING_ROOT = re.compile(r"</(?:body|html)\s*>", re.I)
_TAGS = re.compile(r"<[^>]*>")
MAX_HTML_CHARS = 5 * 1024 * 1024


def before(html: str) -> str:
    """html_to_text as it was before the layout walk, verbatim."""
    if not html.strip():
        return ""
    html = _CLOSING_ROOT.sub("", html[:MAX_HTML_CHARS])
    try:
        text: str = get_text(html, _BEFORE_CONFIG)
    except Exception:
        text = _TAGS.sub(" ", html)
    text = text.replace("\xa0", " ")
    if " \n" in text or "\t\n" in text:
        lines = text.split("\n")
        last = lines.pop()
        lines = [line.rstrip(" \t") for line in lines]
        lines.append(last)
        text = "\n".join(lines)
    if "\n\n\n" in text:
        text = _BLANK_RUNS.sub("\n\n", text)
    return text.strip("\n")


def after(html: str) -> str:
    return render_html(html)[0]


class _TaggedLoader(yaml.SafeLoader):
    """SafeLoader that reads Zammad's Ruby-tagged nodes (`!ruby/hash:...`, `!binary`) as plain values."""


def _construct_tagged(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> object:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_TaggedLoader.add_multi_constructor("!", _construct_tagged)


def _html_parts(raw: bytes) -> Iterator[str]:
    if raw.startswith(b"From "):  # mbox separator line
        raw = raw.split(b"\n", 1)[-1]
    message = message_from_bytes(raw, policy=policy.default)
    for part in message.walk():
        if isinstance(part, Message) and part.get_content_type() == "text/html":
            text = read_text(part, part.get_content_charset(), [])
            if text.strip():
                yield text


def collect(corpus: Path) -> list[tuple[str, str]]:
    """(where, html) for every HTML document of the corpus, in a fixed order."""
    docs: list[tuple[str, str]] = []
    for path in sorted(corpus.rglob("*")):
        if not path.is_file():
            continue
        name = str(path.relative_to(corpus))
        suffix = path.suffix.lower()
        try:
            if suffix in MAIL_SUFFIXES:
                docs.extend((name, html) for html in _html_parts(path.read_bytes()))
            elif suffix in (".html", ".htm"):
                docs.append((name, path.read_bytes().decode("utf-8", "replace")))
            elif suffix == ".yml" and path.parent.name == "mail":
                with path.open(encoding="utf-8") as handle:
                    expected = yaml.load(handle, Loader=_TaggedLoader)  # noqa: S506 - a SafeLoader subclass
                if not isinstance(expected, dict) or expected.get("content_type") != "text/html":
                    continue
                body = expected.get("body")
                if isinstance(body, str) and body.strip():
                    docs.append((name, body))
        except Exception as error:  # a file the stdlib cannot read is not part of the benchmark
            print(f"skipped {name}: {error!r}", file=sys.stderr)
    return docs


def _time(convert: Callable[[str], object], html: str) -> float:
    start = time.perf_counter()
    convert(html)
    return (time.perf_counter() - start) * 1e6


def _agreement(docs: list[tuple[str, str]]) -> None:
    words = exact = 0
    differ: list[str] = []
    for name, html in docs:
        new = after(html)
        if "".join(new.split()) == "".join(before(html).split()):
            words += 1
        else:
            differ.append(name)
        exact += new == html_to_text_inscriptis(html)
    print(f"same words as before: {words}/{len(docs)}" + (f" (not: {', '.join(differ)})" if differ else ""))
    print(f"same text as inscriptis on the same tree (the fallback): {exact}/{len(docs)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    docs = collect(args.corpus)
    if not docs:
        sys.exit(f"no HTML documents under {args.corpus}")
    size = sum(len(html) for _, html in docs)
    print(f"{len(docs)} HTML documents, {size / 1e6:.2f} M characters, {args.corpus}")
    converters = Counter(render_html(html)[1] for _, html in docs)
    print("html_to_text used: " + ", ".join(f"{name} {count}" for name, count in converters.most_common()))
    _agreement(docs)
    runs: dict[str, Callable[[str], object]] = {"before (inscriptis)": before, "after (html_to_text)": after}
    best: dict[str, list[float]] = {name: [float("inf")] * len(docs) for name in runs}
    for _ in range(args.rounds):
        for index, (_, html) in enumerate(docs):
            for name, convert in runs.items():
                best[name][index] = min(best[name][index], _time(convert, html))
    print(f"{'converter':<22} {'mean us':>9} {'p50 us':>8} {'p99 us':>9} {'max us':>9}   best of {args.rounds} rounds")
    for name, values in best.items():
        print(
            f"{name:<22} {statistics.fmean(values):>9.0f} {pct(values, 50):>8.0f} {pct(values, 99):>9.0f} "
            f"{max(values):>9.0f}"
        )
    old, new = (statistics.fmean(values) for values in best.values())
    ratios = [a / b for a, b in zip(*best.values(), strict=True)]
    print(f"speed-up of the mean: {old / new:.1f}x; per document: p50 {pct(ratios, 50):.1f}x, min {min(ratios):.1f}x")


if __name__ == "__main__":
    main()
