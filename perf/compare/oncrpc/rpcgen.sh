#!/bin/sh
# rpcgen.sh RPCGEN IN.x OUTDIR — run rpcgen the way meson needs it: the
# header, client stubs and server dispatch (MT-safe, -M) of IN.x written to
# OUTDIR as NAME.h, NAME_clnt.c and NAME_svc.c. rpcgen names the header it
# #includes after its input's path, and will not overwrite an output, so
# it runs on a copy of IN.x inside OUTDIR, after removing the old outputs.
set -eu
rpcgen=$1
in=$2
out=$3
name=$(basename "$in" .x)
cp "$in" "$out/$name.x"
cd "$out"
rm -f "$name.h" "${name}_clnt.c" "${name}_svc.c"
"$rpcgen" -M -h -o "$name.h" "$name.x"
"$rpcgen" -M -l -o "${name}_clnt.c" "$name.x"
"$rpcgen" -M -m -o "${name}_svc.c" "$name.x"
