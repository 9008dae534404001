"""The answer reader: picks the units of the retrieved passages that answer a question.

`plain` strips Markdown noise from what is quoted; `features` and `selector` score candidate
units with a trained model (see `ragkit.reader.train` for how the shipped artefact is built).
"""
