"""Text utilities shared by ingestion, retrieval, answering and evaluation: one of each.

    ragkit.text.segment   sentences, list items and table rows as verbatim spans of a text
    ragkit.text.analyse   the analyser: words -> stopwords out -> Snowball stems (BM25, lexical
                          scoring), one per language
    ragkit.text.language  which language a text is in (lingua, imported on first use)

All are cheap to import: PyStemmer and lingua load on first use, no model weights.
"""
