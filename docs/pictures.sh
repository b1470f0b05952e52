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
# The machines that compare and divide (catlib.examples.bank, .thermostat, .vending): version 1,
# version 2 and the migration of each, drawn at their declared signatures (catlib.program.Program)
# and titled with the program's name, as SVG; PNG too for those the README shows (the versions 2 and the vending machine are 8,000 to
# 16,000 pixels wide: SVG only).
for m in bank:BANK:bank bank:BANK2:bank2 bank:MIGRATION:upgrade_bank \
         thermostat:THERMOSTAT:thermostat thermostat:THERMOSTAT2:thermostat2 \
         thermostat:MIGRATION:upgrade_thermostat \
         vending:VENDING:vending vending:VENDING2:vending2 vending:MIGRATION:upgrade_vending; do
  module=${m%%:*}; rest=${m#*:}; name=${rest%%:*}; file=${rest#*:}
  title=$(python -c "from catlib.examples.$module import $name as p; print(p.name, ':', p.signature)")
  render catlib.examples.$module:$name --title "$title" -o docs/$file.svg
  case $file in
    bank|upgrade_bank|thermostat|upgrade_thermostat|upgrade_vending)
      render catlib.examples.$module:$name --title "$title" -o docs/$file.png ;;
  esac
done
