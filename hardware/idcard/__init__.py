"""Second-generation ID-card security module (SAM), GA/T 467 framing."""
