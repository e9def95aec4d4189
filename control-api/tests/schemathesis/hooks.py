"""schemathesis hooks for the control API's document (SCHEMATHESIS_HOOKS points here)."""

import schemathesis

# tus sends upload data as `application/offset+octet-stream` (tus 1.0 core): bytes as they are, which is what
# schemathesis's own octet-stream serializer sends.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
