#!/bin/sh
# Remake the pictures in docs/ (run from the repository root; needs Graphviz's dot for
# the committed look, else `catlib render` falls back to matplotlib).
set -e
C=catlib.examples.counter
render() { python -m catlib render "$@"; }
for ext in svg png; do
  render $C:counter_sm --input-type "Either () ()" -o docs/counter_sm.$ext
  render $C:counter_sm2 --state-type "(Int, Int)" --input-type "Either () ()" -o docs/counter_sm2.$ext
  render $C:upgrade_state --state-type "()" --input-type Int -o docs/upgrade_state.$ext
  render $C:counter_sm --view bytecode -o docs/counter_sm_bytecode.$ext
  render $C:upgrade_state --view tree --state-type "()" --input-type Int -o docs/upgrade_state_tree.$ext
done
