"""Graph passes: each module holds one named rewrite Graph -> Graph; ``manager`` runs them by level."""
