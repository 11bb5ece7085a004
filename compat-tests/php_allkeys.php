<?php
// php_allkeys.php - Memcached::getAllKeys() after many writes (issue 14).
// Usage: php php_allkeys.php write|list N PORT... ; keys are "ak%s:<i>" and "%%<i>%d" (literal
// %-characters). write: stores N keys over the servers; list: getAllKeys() and what it found.
$mode = $argv[1];
$n = (int)$argv[2];
$ports = array_map('intval', array_slice($argv, 3));
$m = new Memcached();
foreach ($ports as $p) { $m->addServer('127.0.0.1', $p); }
$m->setOption(Memcached::OPT_CONNECT_TIMEOUT, 500);
$keys = [];
for ($i = 0; $i < $n; $i++) { $keys[] = ($i % 2) ? "ak%s:$i" : "%%$i%d"; }
if ($mode === 'write') {
    $ok = 0;
    foreach (array_chunk($keys, 500) as $chunk) {
        $ok += $m->setMulti(array_fill_keys($chunk, 'v')) ? count($chunk) : 0;
    }
    echo "written=$ok\n";
    exit($ok === $n ? 0 : 1);
}
// Which keys live on a server that answers (getServerByKey does not connect).
$live = [];
foreach ($ports as $p) {
    $live[$p] = (bool)@fsockopen('127.0.0.1', $p, $errno, $errstr, 0.5);
}
$expected = 0;
foreach ($keys as $k) {
    if ($live[$m->getServerByKey($k)['port']]) { $expected++; }
}
$all = $m->getAllKeys();
$code = $m->getResultCode();
$listed = is_array($all) ? count($all) : -1;
$matched = is_array($all) ? count(array_intersect($all, $keys)) : 0;
echo "listed=$listed matched=$matched expected=$expected code=$code ",
    preg_replace('/\(0x[0-9a-f]+\)/', '(PTR)', $m->getResultMessage()), "\n";
// The %-keys round-trip: each listed key reads back.
$sample = is_array($all) ? array_slice(array_values(array_intersect($all, $keys)), 0, 50) : [];
$got = $sample ? $m->getMulti($sample) : [];
echo "readback=", is_array($got) ? count($got) : -1, "/", count($sample), "\n";
