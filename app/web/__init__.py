"""Server-rendered pages: the apex site and the workspace UI."""
