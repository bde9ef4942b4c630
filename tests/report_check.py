#!/usr/bin/env python3
"""Checks of a generated report (tests/report_test.sh). Standard library only.

  report_check.py golden GOLDEN_DIR REPORT_DIR   Markdown and CSV against the approved baselines, numbers with a
                                                 tolerance; a mismatch writes *.unapproved.* beside the baseline
  report_check.py png FILE MIN_FRACTION          the PNG has at least this fraction of non-white pixels
  report_check.py ppm-pages FILE... MIN_FRACTION every PPM page has at least this fraction of non-white pixels
"""
import csv
import io
import os
import re
import struct
import sys
import zlib

NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:[eE][+-]?\d+)?")


def normalise_markdown(text):
    """Drops what changes from build to build: the tool version and the source revision."""
    lines = []
    for line in text.splitlines():
        if line.startswith("| flopcast |") or line.startswith("| source (git describe"):
            continue
        lines.append(line)
    return lines


def close(a, b, rel, abs_tol):
    return abs(a - b) <= max(abs_tol, rel * max(abs(a), abs(b)))


def to_float(token):
    return float(token.replace(",", ""))


def compare_markdown(expected, actual, rel=0.02, abs_tol=0.11):
    """Same text apart from numbers; numbers within a tolerance (the Markdown rounds to about three digits)."""
    problems = []
    exp_lines, act_lines = normalise_markdown(expected), normalise_markdown(actual)
    if len(exp_lines) != len(act_lines):
        problems.append(f"{len(act_lines)} lines, expected {len(exp_lines)}")
    for number, (e, a) in enumerate(zip(exp_lines, act_lines), 1):
        if NUMBER.sub("#", e) != NUMBER.sub("#", a):
            problems.append(f"line {number}: text differs\n  expected: {e}\n  actual:   {a}")
            continue
        for x, y in zip(NUMBER.findall(e), NUMBER.findall(a)):
            if not close(to_float(x), to_float(y), rel, abs_tol):
                problems.append(f"line {number}: {y}, expected {x}\n  {a}")
                break
    return problems


def csv_rows(text):
    rows = {}
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    if header != ["section", "item", "row", "column", "value", "unit"]:
        raise SystemExit(f"unexpected CSV header {header}")
    for record in reader:
        key = tuple(record[:4])
        rows.setdefault(key, []).append((float(record[4]), record[5]))
    return rows


def compare_csv(expected, actual, rel=1e-3, abs_tol=1e-9):
    problems = []
    exp, act = csv_rows(expected), csv_rows(actual)
    for key in exp.keys() - act.keys():
        problems.append(f"missing: {key}")
    for key in act.keys() - exp.keys():
        problems.append(f"new: {key}")
    for key in exp.keys() & act.keys():
        if len(exp[key]) != len(act[key]):
            problems.append(f"{key}: {len(act[key])} values, expected {len(exp[key])}")
            continue
        for (ev, eu), (av, au) in zip(exp[key], act[key]):
            if eu != au:
                problems.append(f"{key}: unit {au!r}, expected {eu!r}")
            elif not close(ev, av, rel, abs_tol):
                problems.append(f"{key}: {av:.6g} {au}, expected {ev:.6g}")
    return sorted(problems)


def golden(golden_dir, report_dir):
    failed = False
    for name, compare in (("report.md", compare_markdown), ("report.csv", compare_csv)):
        with open(f"{report_dir}/{name}", encoding="utf-8") as f:
            actual = f.read()
        stem, ext = name.rsplit(".", 1)
        try:
            with open(f"{golden_dir}/{name}", encoding="utf-8") as f:
                expected = f.read()
            problems = compare(expected, actual)
        except FileNotFoundError:
            problems = [f"no baseline {golden_dir}/{name}"]
        if problems:
            failed = True
            print(f"FAIL {name}: {len(problems)} differences (first 15):")
            for p in problems[:15]:
                print("  " + p)
            with open(f"{golden_dir}/{stem}.unapproved.{ext}", "w", encoding="utf-8") as f:
                f.write(actual)
            print(f"  wrote {golden_dir}/{stem}.unapproved.{ext}; approve with tests/approve_report.sh")
        else:
            print(f"ok {name}")
            try:  # a baseline left unapproved by an earlier run is stale now
                os.remove(f"{golden_dir}/{stem}.unapproved.{ext}")
            except FileNotFoundError:
                pass
    return 1 if failed else 0


def png_pixels(path):
    """Decodes an 8-bit RGB or RGBA PNG (what Chromium writes): yields (r, g, b) per pixel."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG")
    pos, idat, width, height, colour_type = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour_type = struct.unpack(">IIBB", body[:10])
            if depth != 8 or colour_type not in (2, 6):
                raise SystemExit(f"{path}: unsupported PNG (depth {depth}, colour type {colour_type})")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    channels = 4 if colour_type == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            upper_left = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - upper_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else upper_left
                line[i] = (line[i] + predictor) & 0xFF
        for i in range(0, stride, channels):
            yield line[i], line[i + 1], line[i + 2]
        previous = line


def non_white_fraction(pixels):
    total = ink = 0
    for r, g, b in pixels:
        total += 1
        if r < 235 or g < 235 or b < 235:
            ink += 1
    return ink / max(total, 1)


def ppm_pixels(path):
    with open(path, "rb") as f:
        data = f.read()
    fields, pos = [], 0
    while len(fields) < 4:  # magic, width, height, maximum value; comments are not written by pdftoppm
        while data[pos:pos + 1].isspace():
            pos += 1
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    pos += 1
    if fields[0] != b"P6":
        raise SystemExit(f"{path}: not a binary PPM")
    body = data[pos:]
    for i in range(0, len(body) - 2, 3):
        yield body[i], body[i + 1], body[i + 2]


def main(argv):
    if len(argv) == 4 and argv[1] == "golden":
        return golden(argv[2], argv[3])
    if len(argv) == 4 and argv[1] == "png":
        fraction = non_white_fraction(png_pixels(argv[2]))
        print(f"{argv[2]}: {100 * fraction:.1f} % of pixels not white")
        return 0 if fraction >= float(argv[3]) else 1
    if len(argv) >= 4 and argv[1] == "ppm-pages":
        failed = 0
        for page in argv[2:-1]:
            fraction = non_white_fraction(ppm_pixels(page))
            ok = fraction >= float(argv[-1])
            print(f"{'ok' if ok else 'FAIL'} {page}: {100 * fraction:.2f} % of pixels not white")
            failed += 0 if ok else 1
        return 1 if failed else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
