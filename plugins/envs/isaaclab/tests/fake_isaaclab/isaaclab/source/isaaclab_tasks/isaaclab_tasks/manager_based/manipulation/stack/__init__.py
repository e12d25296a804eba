"""Fake stack task package; the mdp terms are toy versions of the real ones."""
