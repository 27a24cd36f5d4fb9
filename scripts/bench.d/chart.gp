# scripts/bench chart: launch latency (median bars, min..max whiskers) and throughput per concurrency.
# gnuplot -e "outdir='DIR'" chart.gp   (reads DIR/latency.dat and DIR/throughput.dat, writes DIR/results.png)
set terminal pngcairo size 1400,560 font "sans,10"
set output outdir."/results.png"
set multiplot layout 1,2 title "hardrun vs other launchers (scripts/bench)"

set title "Launch latency of /bin/true (median, min..max)"
set bmargin 9
set rmargin 6
set ylabel "ms"
set style fill solid 0.6 border -1
set boxwidth 0.6
set xtics rotate by -30 scale 0 font ",9"
set yrange [0:*]
set grid ytics
unset key
plot outdir."/latency.dat" using 1:3:xtic(2) with boxes lc rgb "#4a7bb7", \
     "" using 1:3:4:5 with yerrorbars lc rgb "#222222" pt 0, \
     "" using 1:3:(sprintf("%.1f", $3)) with labels offset 0,0.8 font ",8"

set title "Throughput (launches of /bin/true per second)"
set bmargin 9
set ylabel "launches/s"
set xlabel "concurrent launchers"
set xtics norotate (1, 2, 8) font ",10"
set logscale x 2
set xrange [0.8:10]
set key top left
set style data linespoints
stats outdir."/throughput.dat" skip 1 nooutput
ncols = STATS_columns
plot for [i=2:ncols] outdir."/throughput.dat" using 1:i title columnheader(i) lw 2 pt 7
unset multiplot
