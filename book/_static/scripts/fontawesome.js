/* Replaces the theme's scripts/fontawesome.js (pydata-sphinx-theme), a
 * 1.5 MB script that redraws Font Awesome icons as SVG. The theme's
 * stylesheet already draws the same icons from its own web fonts, so the
 * script only made every page 1.5 MB heavier and slower to load (see
 * tools/check_site.py: no page may load more than 5 MB). Files in
 * html_static_path override the theme's files of the same name. */
