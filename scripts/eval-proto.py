#!/usr/bin/env python3
"""eval-proto.py: a Python prototype of earshot's matcher (docs/rules.md).

It exists so the shipped keyword lists and rules can be tuned before (and
independently of) the C engine. It implements the language as documented:

  * .kw files: `list NAME [lang=..]` and `brand ID "Display"` sections,
    indented entries, `re:` regex entries, literal word-boundary behaviour;
  * .rules files: rule ID with match / near / not / unless / lang / brand /
    category / severity / weight / cap, and `set threshold X`;
  * scoring: score = sum(weight * min(candidates, cap)); complaint when
    score >= threshold and a positive-weight rule fired.

Normalisation here is a subset of the C normaliser: HTML entities, full-width
ASCII to half-width, case folding, zero-width characters dropped, white space
collapsed. Traditional-to-simplified conversion is NOT done here.

Regexes run in Python's `re` with re.ASCII | re.IGNORECASE, which matches the
documented dialect (ASCII \\b \\w \\d) for the constructs the shipped rules use.

Usage as a program:
  scripts/eval-proto.py [--keywords DIR] [--rules DIR] [--all] TEXT...
  echo TEXT | scripts/eval-proto.py [--all]
prints one JSON object per post (like `earshot scan`).

Imported by scripts/eval and scripts/learn-weights (importlib, file path).
"""
import html
import json
import os
import re
import sys

ZERO_WIDTH = {0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD}
_ws_re = re.compile(r"\s+")
_han_re = re.compile("[\u3400-\u9fff\uf900-\ufaff]")


def normalise(s):
    s = html.unescape(s)
    out = []
    for ch in s:
        o = ord(ch)
        if o in ZERO_WIDTH or 0xFE00 <= o <= 0xFE0F:
            continue
        if 0xFF01 <= o <= 0xFF5E:
            ch = chr(o - 0xFEE0)
        elif o == 0x3000:
            ch = " "
        out.append(ch)
    s = "".join(out).lower()
    return _ws_re.sub(" ", s).strip()


def _is_alnum_ascii(c):
    return ("a" <= c <= "z") or ("0" <= c <= "9") or ("A" <= c <= "Z")


class LoadError(Exception):
    pass


class Term:
    """One matchable thing: a literal (with boundary flags) or a regex."""

    __slots__ = ("lit", "rx", "wb_start", "wb_end")

    def __init__(self, lit=None, rx=None):
        self.lit = lit
        self.rx = rx
        if lit is not None:
            self.wb_start = _is_alnum_ascii(lit[0])
            self.wb_end = _is_alnum_ascii(lit[-1])

    def find(self, text):
        spans = []
        if self.rx is not None:
            for m in self.rx.finditer(text):
                if m.end() > m.start():
                    spans.append((m.start(), m.end()))
            return spans
        lit = self.lit
        n = len(lit)
        i = text.find(lit)
        while i >= 0:
            ok = True
            if self.wb_start and i > 0 and _is_alnum_ascii(text[i - 1]):
                ok = False
            if ok and self.wb_end and i + n < len(text) and _is_alnum_ascii(text[i + n]):
                ok = False
            if ok:
                spans.append((i, i + n))
            i = text.find(lit, i + 1)
        return spans


def compile_rx(pat, where):
    try:
        return re.compile(pat, re.ASCII | re.IGNORECASE)
    except re.error as e:
        raise LoadError("%s: bad regex %r: %s" % (where, pat, e))


class RuleSet:
    def __init__(self, kwdir, rulesdir):
        self.lists = {}  # name -> (lang, [Term])
        self.brands = {}  # id -> (display, [Term])
        self.rules = []
        self.threshold = 1.0
        for fn in sorted(os.listdir(kwdir)):
            if fn.endswith(".kw"):
                self._load_kw(os.path.join(kwdir, fn))
        for fn in sorted(os.listdir(rulesdir)):
            if fn.endswith(".rules"):
                self._load_rules(os.path.join(rulesdir, fn))
        self.all_brand_terms = [t for _, ts in self.brands.values() for t in ts]

    # ---- keyword files
    def _load_kw(self, path):
        cur = None
        with open(path, encoding="utf-8") as f:
            for ln, line in enumerate(f, 1):
                line = line.rstrip("\n")
                where = "%s:%d" % (path, ln)
                if not line.strip() or line.startswith("#"):
                    continue
                if line[0] not in " \t":
                    m = re.match(r"list ([a-z0-9_]+)(?: lang=(zh|en|any))?\s*$", line)
                    if m:
                        if m.group(1) in self.lists:
                            raise LoadError(where + ": duplicate list " + m.group(1))
                        cur = []
                        self.lists[m.group(1)] = (m.group(2) or "any", cur)
                        continue
                    m = re.match(r'brand ([a-z0-9_]+) "([^"]*)"\s*$', line)
                    if m:
                        if m.group(1) in self.brands:
                            raise LoadError(where + ": duplicate brand " + m.group(1))
                        cur = []
                        self.brands[m.group(1)] = (m.group(2), cur)
                        continue
                    raise LoadError(where + ": bad section line: " + line)
                if cur is None:
                    raise LoadError(where + ": entry outside a section")
                e = line.strip()
                if e.startswith("re:"):
                    cur.append(Term(rx=compile_rx(e[3:], where)))
                else:
                    cur.append(Term(lit=normalise(e)))

    # ---- rule files
    def _terms(self, spec, where):
        out = []
        # split on | outside /regex/ and "literal"
        parts, buf, inrx, inq = [], [], False, False
        i = 0
        while i < len(spec):
            c = spec[i]
            if c == "\\" and inrx and i + 1 < len(spec):
                buf.append(spec[i : i + 2])
                i += 2
                continue
            if c == "/" and not inq:
                inrx = not inrx
            elif c == '"' and not inrx:
                inq = not inq
            if c == "|" and not inrx and not inq:
                parts.append("".join(buf).strip())
                buf = []
            else:
                buf.append(c)
            i += 1
        parts.append("".join(buf).strip())
        for p in parts:
            if p == "@brand":
                out.append(("brand", None))
            elif p.startswith("@brand:"):
                b = p[7:]
                if b not in self.brands:
                    raise LoadError(where + ": unknown brand " + b)
                out.extend(("t", t) for t in self.brands[b][1])
            elif p.startswith("@"):
                if p[1:] not in self.lists:
                    raise LoadError(where + ": unknown list " + p)
                out.extend(("t", t) for t in self.lists[p[1:]][1])
            elif len(p) >= 2 and p[0] == "/" and p[-1] == "/":
                out.append(("t", Term(rx=compile_rx(p[1:-1], where))))
            elif len(p) >= 2 and p[0] == '"' and p[-1] == '"':
                out.append(("t", Term(lit=normalise(p[1:-1]))))
            else:
                raise LoadError(where + ": bad term " + repr(p))
        return out

    def _load_rules(self, path):
        cur = None
        with open(path, encoding="utf-8") as f:
            for ln, line in enumerate(f, 1):
                line = line.rstrip("\n")
                where = "%s:%d" % (path, ln)
                if not line.strip() or line.startswith("#"):
                    continue
                if line[0] not in " \t":
                    m = re.match(r"set threshold (-?[0-9.]+)\s*$", line)
                    if m:
                        self.threshold = float(m.group(1))
                        continue
                    m = re.match(r"rule ([A-Za-z0-9_.-]+)\s*$", line)
                    if not m:
                        raise LoadError(where + ": bad line: " + line)
                    if any(r["id"] == m.group(1) for r in self.rules):
                        raise LoadError(where + ": duplicate rule " + m.group(1))
                    cur = dict(id=m.group(1), match=None, near=[], nots=[], unless=[],
                               lang="any", brand="any", category="complaint", severity=1,
                               weight=1.0, cap=1, file=path, line=ln)
                    self.rules.append(cur)
                    continue
                if cur is None:
                    raise LoadError(where + ": key outside a rule")
                key, _, val = line.strip().partition(" ")
                val = val.strip()
                if key == "match":
                    cur["match"] = self._terms(val, where)
                elif key == "near":
                    m = re.match(r"(.*)\s+within\s+(\d+)$", val)
                    if not m:
                        raise LoadError(where + ": near needs 'within N'")
                    cur["near"].append((self._terms(m.group(1), where), int(m.group(2))))
                elif key == "not":
                    m = re.match(r"(.*)\s+(before|after|around)\s+(\d+)$", val)
                    if not m:
                        raise LoadError(where + ": not needs before/after/around N")
                    cur["nots"].append((self._terms(m.group(1), where), m.group(2), int(m.group(3))))
                elif key == "unless":
                    cur["unless"].append(self._terms(val, where))
                elif key == "lang":
                    cur["lang"] = val
                elif key == "brand":
                    cur["brand"] = val
                elif key == "category":
                    cur["category"] = val
                elif key == "severity":
                    cur["severity"] = int(val)
                elif key == "weight":
                    cur["weight"] = float(val)
                elif key == "cap":
                    cur["cap"] = int(val)
                else:
                    raise LoadError(where + ": unknown key " + key)
        for r in self.rules:
            if r["match"] is None:
                raise LoadError("%s:%d: rule %s has no match" % (r["file"], r["line"], r["id"]))

    # ---- matching
    def _spans(self, terms, text, cache, brand_spans):
        out = []
        for kind, t in terms:
            if kind == "brand":
                out.extend(brand_spans)
                continue
            k = id(t)
            s = cache.get(k)
            if s is None:
                s = t.find(text)
                cache[k] = s
            out.extend(s)
        return out

    def brand_hits(self, text, cache):
        hits = []
        for bid, (_, ts) in self.brands.items():
            for t in ts:
                k = id(t)
                s = cache.get(k)
                if s is None:
                    s = t.find(text)
                    cache[k] = s
                hits.extend((a, b, bid) for a, b in s)
        hits.sort()
        return hits

    def fire(self, raw, lang=None):
        """-> (text, lang, brand hits, [(rule, min(count, cap), candidates)])."""
        text = normalise(raw)
        if lang is None:
            lang = "zh" if _han_re.search(text) else "en"
        cache = {}
        bh = self.brand_hits(text, cache)
        brand_spans = [(a, b) for a, b, _ in bh]
        brand_ids = {b for _, _, b in bh}
        fired = []
        for r in self.rules:
            if r["lang"] != "any" and r["lang"] != lang:
                continue
            if r["brand"] == "required" and not bh:
                continue
            if r["brand"] not in ("any", "required"):
                if not (set(r["brand"].split(",")) & brand_ids):
                    continue
            cands = sorted(set(self._spans(r["match"], text, cache, brand_spans)))
            if not cands:
                continue
            if any(self._spans(u, text, cache, brand_spans) for u in r["unless"]):
                continue
            for terms, n in r["near"]:
                ns = self._spans(terms, text, cache, brand_spans)
                cands = [c for c in cands
                         if any((s, e) != c and max(c[0] - e, s - c[1], 0) <= n for s, e in ns)]
            for terms, mode, n in r["nots"]:
                ns = self._spans(terms, text, cache, brand_spans)
                keep = []
                for c in cands:
                    neg = False
                    for s, e in ns:
                        # as in src/match/matcher.c: a negation that starts before the
                        # candidate counts when it ends within N characters before it
                        # or overlaps it; one starting at the same place does not.
                        if mode in ("before", "around") and s < c[0] and c[0] - e <= n:
                            neg = True
                        if mode in ("after", "around") and e > c[1] and s - c[1] <= n:
                            neg = True
                        if neg:
                            break
                    if not neg:
                        keep.append(c)
                cands = keep
            if not cands:
                continue
            cnt = min(len(cands), r["cap"])
            fired.append((r, cnt, cands))
        return text, lang, bh, fired

    def scan(self, raw, lang=None):
        text, lang, bh, fired = self.fire(raw, lang)
        score = sum(r["weight"] * c for r, c, _ in fired)
        pos = [(r["weight"] * c, r, cands) for r, c, cands in fired if r["weight"] > 0]
        complaint = score >= self.threshold and bool(pos)
        res = {"complaint": complaint, "score": round(score, 4), "lang": lang,
               "rules": [r["id"] for r, _, _ in fired]}
        if pos:
            best = max(pos, key=lambda x: x[0])
            res["category"] = best[1]["category"]
            res["severity"] = max(r["severity"] for _, r, _ in pos)
            brand = None
            if bh:
                c0 = best[2][0]
                brand = min(bh, key=lambda h: max(c0[0] - h[1], h[0] - c0[1], 0))[2]
            res["brand"] = brand
        else:
            res["brand"] = bh[0][2] if bh else None
        return res

    def features(self, raw):
        """{rule id: min(count, cap)} of the rules that fire, for learn-weights."""
        return {r["id"]: c for r, c, _ in self.fire(raw)[3]}


# ---------------------------------------------------------------- data sets
# Shared by scripts/eval and scripts/learn-weights. Records are numbered from
# 1 after the header, in file order, as read by Python's csv module.

def load_waimai(datadir):
    """[(id, text, is_complaint)]; label 0 = negative review = complaint."""
    import csv
    out = []
    path = os.path.join(datadir, "waimai_10k", "waimai_10k.csv")
    with open(path, encoding="utf-8", newline="") as f:
        rd = csv.DictReader(f)
        for i, row in enumerate(rd, 1):
            out.append((i, row["review"], row["label"].strip() == "0"))
    return out


def load_airline(datadir):
    """[(id, text, sentiment)]; the file is CR-separated latin-1/cp1252."""
    import csv
    out = []
    path = os.path.join(datadir, "airline_sentiment", "Airline-Sentiment-2-w-AA.csv")
    with open(path, encoding="latin-1", newline="") as f:
        rd = csv.DictReader(f)
        for i, row in enumerate(rd, 1):
            out.append((i, row["text"], row["airline_sentiment"].strip()))
    return out


def load_twcs(datadir):
    """[(id, text, inbound)], split on LF only (see the folder's README)."""
    import csv
    import io
    path = os.path.join(datadir, "twcs_sample", "twcs.csv")
    with open(path, encoding="utf-8", newline="") as f:
        data = f.read()
    # keep raw CRs inside fields: csv with newline='' would split on them
    rd = csv.DictReader(io.StringIO(data.replace("\r", " "), newline=""))
    return [(i, row["text"], row["inbound"] == "True") for i, row in enumerate(rd, 1)]


def is_heldout(rec_id):
    """The held-out half: even record numbers. learn-weights fits on odd ones."""
    return rec_id % 2 == 0


def default_dirs():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(root, "keywords"), os.path.join(root, "rules")


def main(argv):
    import argparse

    kw, rl = default_dirs()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keywords", default=kw)
    ap.add_argument("--rules", default=rl)
    ap.add_argument("--all", action="store_true", help="print non-complaints too")
    ap.add_argument("text", nargs="*")
    a = ap.parse_args(argv)
    try:
        rs = RuleSet(a.keywords, a.rules)
    except LoadError as e:
        print(e, file=sys.stderr)
        return 1
    texts = a.text or [l.rstrip("\n") for l in sys.stdin]
    for i, t in enumerate(texts, 1):
        r = rs.scan(t)
        if r["complaint"] or a.all:
            r["id"] = i
            r["text"] = t
            print(json.dumps(r, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
