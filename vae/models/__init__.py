"""Every model behind one interface: ours, ONNX exports, and trusted user code."""
