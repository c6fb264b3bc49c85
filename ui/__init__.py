"""Streamlit-side helpers shared by the pages (the `vae` library never imports streamlit).

Importing `ui` also sets torch up for interaction, once per process, whichever page runs first.
Each Streamlit run happens in a new thread, and oneDNN's convolutions size their OpenMP team per
thread, ignoring torch.set_num_threads: a single-image decode in a fresh thread took 4 ms at the
median and up to 70 ms when the browser on the same machine held a core, against about 1 ms with
torch's own kernels. One thread suits these small models: the other core is left to the browser.
"""

import torch

torch.set_num_threads(1)
torch.backends.mkldnn.enabled = False
