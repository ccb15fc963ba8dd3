"""capital-tracker: a public capital-works programme tracked against its approved 概算."""
