"""A small Markdown-to-HTML writer for dlrun's reports: headings, paragraphs, lists, pipe
tables, links and images. Images that exist beside the report are embedded as data URIs,
so the HTML opens from anywhere."""
from __future__ import annotations

import base64
import html
import re
from pathlib import Path

_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px solid #ccc;padding:4px 8px;
text-align:right}th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee;margin:0.5em 0}code{background:#f4f4f4;padding:0 3px}"""


def _inline(text: str) -> str:
    out = html.escape(text, quote=False)
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    out = re.sub(r"`(.+?)`", r"<code>\1</code>", out)
    return re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r'<a href="\2">\1</a>', out)


def _image(alt: str, src: str, base_dir: Path) -> str:
    path = base_dir / src
    if path.is_file():  # embedded, so the page opens from anywhere
        data = base64.b64encode(path.read_bytes()).decode()
        return f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></p>'
    return f'<p><img alt="{html.escape(alt)}" src="{html.escape(src)}"></p>'


def markdown_to_html(md: str, base_dir: Path, title: str) -> str:
    """The HTML page for `md`; image paths are relative to base_dir."""
    body, table, items = [], [], []

    def flush_list():
        if items:
            body.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            items.clear()

    def flush_table():
        if not table:
            return
        rows = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in table if not re.match(r"^\|[-|]+\|?$", ln)]
        body.append("<table><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in rows[0]) + "</tr>")
        body.extend("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
        body.append("</table>")
        table.clear()

    for line in md.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush_table()
        if line.startswith("- "):
            items.append(_inline(line[2:]))
            continue
        flush_list()
        m = re.match(r"^!\[([^\]]*)\]\(([^)]+)\)$", line)
        if m:
            body.append(_image(m.group(1), m.group(2), base_dir))
        elif line.startswith("## "):
            body.append(f"<h2>{_inline(line[3:])}</h2>")
        elif line.startswith("# "):
            body.append(f"<h1>{_inline(line[2:])}</h1>")
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
    flush_table()
    flush_list()
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
