"""What the book's pages and notebooks show: the verdict rule (claims), generic tables and curves,
the plot style, the page header and helpers, archived verdicts. Nothing here knows a chapter."""
