"""report.html from report.md, through markdown-it-py (CommonMark plus pipe tables; raw HTML in
the Markdown is escaped, never passed through). Images that exist beside the report are
embedded as data URIs, so the HTML opens from anywhere."""

from __future__ import annotations

import base64
import html
import mimetypes
from pathlib import Path

from markdown_it import MarkdownIt

_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px solid #ccc;padding:4px 8px;
text-align:right}th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee;margin:0.5em 0}code{background:#f4f4f4;padding:0 3px}"""


def _renderer(base_dir: Path) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    default_image = md.renderer.rules["image"]

    def image(renderer, tokens, idx, options, env):
        token = tokens[idx]
        path = base_dir / str(token.attrGet("src") or "")
        if path.is_file():  # embedded, so the page opens from anywhere
            kind = mimetypes.guess_type(path.name)[0] or "image/png"
            token.attrSet("src", f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}")
        return default_image(tokens, idx, options, env)

    md.add_render_rule("image", image)
    return md


def markdown_to_html(md: str, base_dir: Path, title: str) -> str:
    """The HTML page for `md`; image paths are relative to base_dir."""
    body = _renderer(Path(base_dir)).render(md)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body>\n{body}</body></html>\n"
    )
