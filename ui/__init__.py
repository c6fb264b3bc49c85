"""Streamlit-side helpers shared by the pages (the `vae` library never imports streamlit).

Importing `ui` also sets torch up for interaction, once per process, whichever page runs first.
Each Streamlit run happens in a new thread, and oneDNN's convolutions size their OpenMP team per
thread, ignoring torch.set_num_threads: single-image decodes in fresh threads are slower with it
(bench/decode_speed.py), and inside the app, with the browser holding a core, took up to 75 ms.
One thread and torch's own kernels suit these small models and leave the other core to the browser.
"""

import torch

torch.set_num_threads(1)
torch.backends.mkldnn.enabled = False
