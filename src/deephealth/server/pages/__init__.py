"""Server-rendered pages (Jinja2 templates, small vanilla JS, inline SVG charts; no CDN)."""
