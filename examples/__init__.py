"""Examples to copy (examples/README.md): a package, so that `examples.tiny_cnn:build` imports
from the project folder ahead of any installed module named `examples`."""
