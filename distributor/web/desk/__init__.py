"""The editors' desk: /desk/ in `distributor serve` (routes.py), its locks
(auth.py), what its article list shows (articles.py) and its strings
(strings.py). Its templates are in templates/desk/."""
