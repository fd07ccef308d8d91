"""The content studio: revisions of personas and scenarios (and curricula), the catalog overlay that
serves published revisions, form <-> YAML editing, auto-play and drafting from a sentence."""
