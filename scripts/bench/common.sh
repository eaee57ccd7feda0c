# common.sh — sourced (from the repository root) by compare.sh, eigs.sh and
# topk.sh: the settings they share and the machine line they print.
#
# Environment: THREADS (2), OUT (/tmp/flatsweep-bench), MNIST (data/mnist),
# PYTHON (/usr/bin/python3), GO (go), TAGS (auto: openblas when installed),
# OMP_WAIT_POLICY (PASSIVE).
THREADS=${THREADS:-2}
OUT=${OUT:-/tmp/flatsweep-bench}
MNIST=${MNIST:-data/mnist}
PYTHON=${PYTHON:-/usr/bin/python3}
GO=${GO:-go}
HAVE_OPENBLAS=
if pkg-config --exists openblas 2>/dev/null || ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so '; then
	HAVE_OPENBLAS=openblas
fi
TAGS=${TAGS-$HAVE_OPENBLAS}
export OPENBLAS_NUM_THREADS="$THREADS" GOMAXPROCS="$THREADS"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"

# bench_machine prints the machine's cores, CPU model and current load.
bench_machine() {
	echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
}
