"""The reports: the model card (``card``), the paper table (``paper_table``) and the recipe frontier (``frontier``),
each rendered only from recorded results files."""
