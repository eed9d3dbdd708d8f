"""Customer insight (issue 18): tags learned from what customers say, with the reasons."""
