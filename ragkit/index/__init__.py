"""The index core shared by ingestion and questions: records, embedders, the generation store.

    ragkit.index.records      Document, Block, Chunk: frozen records with content-derived ids
    ragkit.index.embedding    embedders (texts -> (n, dim) float32, L2-normalised) and their loader
    ragkit.index.bert_numpy   the BERT forward pass in numpy (no torch on a cold question)
    ragkit.index.device       which backend (numpy / torch, fp32 / bf16) encodes on this CPU
    ragkit.index.vector_cache the memo of recent small embedding calls
    ragkit.index.store        generation folders behind an atomic CURRENT pointer; open_store
    ragkit.index.segment      one immutable segment: SQLite chunks, FAISS vectors, BM25 postings
    ragkit.index.snapshot     a generation's segments in one row space: dense and BM25 search
    ragkit.index.milvus_store the same store seam over Milvus (Lite or a server)

`ingest/` (the pipeline: discover, load, chunk, sync) writes through this package; the query
side (`ragkit.retrieval`, `ragkit.generators`) reads through it. Nothing here imports either.
"""
