"""The segmenter: per-customer payment metrics (SQL), rules (YAML), credit policy, history."""
