"""Latent Explorer: pick a model in the sidebar, then explore its latent space page by page.

Run with `streamlit run app.py` (add `-- --checkpoints DIR` to list more checkpoint folders).
"""

import logging

import streamlit as st

from ui import entry, models, show, state

SIDEBAR_WIDTH = 320  # pixels: room for the picker's "model · dataset, arch, z=16" labels
st.set_page_config(page_title="Latent Explorer", page_icon=show.icon(), layout="wide",
                   initial_sidebar_state=SIDEBAR_WIDTH)
show.apply_style()

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/map.py", title="Latent map", icon=":material/scatter_plot:"),
    st.Page("pages/sliders.py", title="Latent sliders", icon=":material/tune:"),
    st.Page("pages/interpolate.py", title="Interpolate", icon=":material/linear_scale:"),
    st.Page("pages/sample.py", title="Sample", icon=":material/grid_view:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
    st.Page("pages/anomalies.py", title="Anomalies", icon=":material/query_stats:"),
    st.Page("pages/draw.py", title="Draw", icon=":material/draw:"),
    st.Page("pages/repair.py", title="Repair", icon=":material/healing:"),
]

page = st.navigation(PAGES)
try:
    models.pick_model()
    state.new_run()
    with entry.inside_app():
        page.run()
except Exception:  # the last line of defence: a message for the user, the traceback for the log
    logging.getLogger("latent_explorer").exception("page %s failed", page.title)
    st.error(
        "Something went wrong while drawing this page. Your choices are kept: try again, "
        "or pick another model in the sidebar.",
        icon=":material/error:",
    )
