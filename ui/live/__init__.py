"""The live views: the model running in the browser (the runtime) and one small component per view."""
