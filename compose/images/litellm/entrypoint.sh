#!/bin/sh
# Arguments starting with "-" (or none) are litellm's, as with the official image's
# `ENTRYPOINT ["litellm"]`; anything else is a command (`litellm --version`, `mlflow server`).
set -e
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
    exec litellm "$@"
fi
if command -v "$1" >/dev/null 2>&1; then
    exec "$@"
fi
exec litellm "$@"
