#!/usr/bin/env bash
# report.sh: the experiment's out_dir/report.html renders in a browser
# (tests/CMakeLists.txt: visual.report). A tiny experiment (copy x rope, alibi
# x 2 seeds) writes it; headless Chromium (Debian's chromium) then opens a
# copy with a probe script added at its end and the DOM is dumped after load:
#   - the page has the accuracy tables, the plot, an attention-map image per
#     scheme, a loss image per task and a row (with its config) per run;
#   - every image decoded (naturalWidth > 0) and none is broken;
#   - a screenshot of the page is a non-trivial PNG.
# The page itself has no script and needs no server. Environment: RELGRAD_BIN.
NAME=report
source "$(dirname "$0")/../robust/lib.sh"
CHROMIUM=${CHROMIUM:-chromium}
command -v "$CHROMIUM" >/dev/null || { echo "report: chromium missing (tools/setup.sh installs it)"; echo "report: FAILED"; exit 1; }

run out.txt err.txt "$BIN" experiment "$TINY" tasks=copy positions=rope,alibi seeds=1,2 steps=40 eval_lens=5,10 out_dir=exp
if ((RC == 0)) && [[ -s exp/report.html ]]; then pass; else fail "experiment: exit $RC, report.html missing" "$(tail -5 err.txt)"; fi
[[ -s exp/report/attention-copy-rope.png && -s exp/report/attention-copy-alibi.png ]] && pass || fail "attention maps of the report missing"
grep -q "<script" exp/report.html && fail "report.html has a script (it should be static)" || pass

browse() { # ARGS...: headless Chromium with the flags every run here uses
    timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --no-first-run --user-data-dir="$WORK/profile.$RANDOM" "$@" 2>>chromium.err
}

# the probe: after load, count images, broken ones and the page's parts
cp exp/report.html probe.html
cat >>probe.html <<'PROBE'
<script>
window.addEventListener("load", function () {
  var imgs = Array.from(document.images), broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
  var maps = imgs.filter(function (i) { return /^attention maps/.test(i.alt); }).length;
  var loss = imgs.filter(function (i) { return /^training loss/.test(i.alt); }).length;
  var plot = document.getElementById("plot");
  var r = document.createElement("pre");
  r.id = "probe";
  r.textContent = "PROBE images=" + imgs.length + " broken=" + broken.length + " maps=" + maps +
    " loss=" + loss + " plot=" + (plot ? plot.naturalWidth : 0) + " tables=" + document.querySelectorAll("table").length +
    " configs=" + document.querySelectorAll("details").length + " END";
  document.body.appendChild(r);
});
</script>
PROBE
browse --virtual-time-budget=10000 --dump-dom "file://$WORK/probe.html" >dom.html
probe=$(grep -o 'PROBE [^<]* END' dom.html)
echo "report: $probe"
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$probe"; }
if [[ -n $probe ]]; then pass; else fail "the page did not load in chromium (no probe output)" "$(tail -3 chromium.err)"; fi
(( $(field broken) == 0 )) && pass || fail "broken images: $probe"
(( $(field images) >= 4 )) && pass || fail "images: $probe"
(( $(field maps) == 2 )) && pass || fail "attention-map images (2 schemes): $probe"
(( $(field loss) == 1 )) && pass || fail "loss images (1 task): $probe"
(( $(field plot) > 100 )) && pass || fail "plot not decoded: $probe"
(( $(field configs) == 4 )) && pass || fail "one config per run (4 runs): $probe"
(( $(field tables) >= 3 )) && pass || fail "tables (exact, token, runs): $probe"

browse --window-size=1280,1600 --screenshot="$WORK/shot.png" "file://$WORK/exp/report.html"
if [[ -s shot.png ]] && (( $(stat -c %s shot.png) > 20000 )); then pass; else fail "screenshot missing or blank ($(stat -c %s shot.png 2>/dev/null) bytes)"; fi

echo "report: $CHECKS checks, $FAILS failed"
((FAILS == 0)) || { echo "report: FAILED"; exit 1; }
echo "report: passed"
