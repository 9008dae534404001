"""Text utilities shared by ingestion, retrieval, answering and evaluation: one of each.

    ragkit.text.segment   sentences, list items and table rows as verbatim spans of a text
    ragkit.text.analyse   the analyser: words -> stopwords out -> Snowball stems (BM25, lexical
                          scoring), one per language

Both are pure Python over `re` and PyStemmer: cheap to import, no model weights.
"""
