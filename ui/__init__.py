"""Streamlit-side helpers shared by the pages (the `vae` library never imports streamlit)."""
