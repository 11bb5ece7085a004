<?php
// php_scenario.php - one run of PHP's memcached extension (Memcached class) through a fixed
// scenario; run-php.sh runs it once on Debian's libmemcached and once on ours and compares.
// Usage: php php_scenario.php PORT1 PORT2 PORT3 DEADPORT
// Prints only what does not depend on time or process (stats: server names and field
// presence; curr_items counts flushed items until they are touched). getMulti results are
// printed in key order: the order answers arrive from several servers is not the real
// library's (binary protocol, modula: real k39,k1,k2, ours k1,k39,k2).
[$_, $p1, $p2, $p3, $dead] = $argv;
$p1 = (int)$p1; $p2 = (int)$p2; $p3 = (int)$p3; $dead = (int)$dead;

function sorted($a) {
    if (is_array($a)) { ksort($a); }
    return $a;
}

function show($m, $what, $v) {
    echo $what, ' => ', json_encode($v), ' | ', $m->getResultCode(), ' ',
        preg_replace('/\(0x[0-9a-f]+\)/', '(PTR)', $m->getResultMessage()), "\n";
}

foreach ([false, true] as $binary) {
    foreach ([false, true] as $ketama) {
        echo "== binary=", (int)$binary, " ketama=", (int)$ketama, "\n";
        $m = new Memcached();
        show($m, 'setOption BINARY', $m->setOption(Memcached::OPT_BINARY_PROTOCOL, $binary));
        show($m, 'setOption KETAMA', $m->setOption(Memcached::OPT_LIBKETAMA_COMPATIBLE, $ketama));
        // append/prepend need compression off (the extension refuses them otherwise).
        show($m, 'setOption COMPRESSION', $m->setOption(Memcached::OPT_COMPRESSION, false));
        show($m, 'getOption BINARY', $m->getOption(Memcached::OPT_BINARY_PROTOCOL));
        show($m, 'getOption DISTRIBUTION', $m->getOption(Memcached::OPT_DISTRIBUTION));
        show($m, 'getOption HASH', $m->getOption(Memcached::OPT_HASH));
        show($m, 'addServers', $m->addServers([['127.0.0.1', $p1], ['127.0.0.1', $p2, 2], ['127.0.0.1', $p3]]));
        show($m, 'getServerList', $m->getServerList());
        show($m, 'flush', $m->flush());
        $keys = [];
        for ($i = 0; $i < 40; $i++) {
            $keys[] = "k$i";
            $m->set("k$i", "value $i", 0);
        }
        show($m, 'set k0..k39', true);
        $where = [];
        foreach ($keys as $k) { $where[$k] = $m->getServerByKey($k)['port']; }
        $byport = array_count_values(array_map(fn($p) => $p == $p1 ? 'p1' : ($p == $p2 ? 'p2' : 'p3'), $where));
        ksort($byport);
        show($m, 'distribution', $byport);
        show($m, 'get k7', $m->get('k7'));
        show($m, 'get missing', $m->get('missing'));
        show($m, 'getMulti', sorted($m->getMulti(['k1', 'missing', 'k2', 'k39'])));
        show($m, 'set int', $m->set('int', 42));
        show($m, 'get int', $m->get('int'));
        show($m, 'set array', $m->set('arr', ['a' => 1, 'b' => [2, 3]]));
        show($m, 'get array', $m->get('arr'));
        show($m, 'set float', $m->set('flt', 1.5));
        show($m, 'get float', $m->get('flt'));
        show($m, 'set bool', $m->set('bool', true));
        show($m, 'get bool', $m->get('bool'));
        show($m, 'set big', $m->set('big', str_repeat('abcdefgh', 4000)));
        show($m, 'get big len', strlen($m->get('big')));
        show($m, 'add new', $m->add('new', 'n'));
        show($m, 'add again', $m->add('new', 'n2'));
        show($m, 'replace new', $m->replace('new', 'r'));
        show($m, 'replace missing', $m->replace('nothere', 'r'));
        show($m, 'append', $m->append('new', '+a'));
        show($m, 'prepend', $m->prepend('new', 'p+'));
        show($m, 'get new', $m->get('new'));
        show($m, 'append missing', $m->append('nothere', 'x'));
        $r = $m->get('k3', null, Memcached::GET_EXTENDED);
        show($m, 'get extended has cas', is_array($r) && $r['cas'] > 0);
        show($m, 'cas', $m->cas($r['cas'], 'k3', 'cas value'));
        show($m, 'cas stale', $m->cas($r['cas'], 'k3', 'again'));
        show($m, 'get k3', $m->get('k3'));
        show($m, 'set counter', $m->set('ctr', 10));
        show($m, 'increment', $m->increment('ctr', 5));
        show($m, 'decrement', $m->decrement('ctr', 20));
        show($m, 'increment missing', $m->increment('nocounter', 1));
        if ($binary) {
            show($m, 'increment initial', $m->increment('ctr2', 1, 7));
            show($m, 'decrement initial', $m->decrement('ctr3', 1, 7));
        }
        show($m, 'delete', $m->delete('k5'));
        show($m, 'delete again', $m->delete('k5'));
        show($m, 'deleteMulti', $m->deleteMulti(['k6', 'missing']));
        show($m, 'touch', $m->touch('k8', 100));
        show($m, 'touch missing', $m->touch('missing', 100));
        show($m, 'setMulti', $m->setMulti(['m1' => 'one', 'm2' => 'two']));
        show($m, 'getMulti m', sorted($m->getMulti(['m1', 'm2'])));
        foreach (['key%s', 'key%d%n', '100%', '%%%'] as $k) {
            show($m, "set $k", $m->set($k, "v$k"));
            show($m, "get $k", $m->get($k));
        }
        show($m, 'getMulti %', sorted($m->getMulti(['key%s', '100%'])));
        show($m, 'bad key', $m->set("bad key", 'x'));
        show($m, 'setByKey', $m->setByKey('grp', 'bk', 'byk'));
        show($m, 'getByKey', $m->getByKey('grp', 'bk'));
        $stats = $m->getStats();
        $s = [];
        foreach ($stats as $srv => $st) {
            $s[$srv] = ['n' => count($st) > 20, 'has_pid' => isset($st['pid'])];
        }
        ksort($s);
        show($m, 'getStats', $s);
        $v = $m->getVersion();
        show($m, 'getVersion', array_map(fn($x) => preg_match('/^\d+\.\d+\.\d+/', $x) === 1, $v));
        show($m, 'isPersistent', $m->isPersistent());
        show($m, 'quit', $m->quit());
        show($m, 'get after quit', $m->get('k1'));
    }
}

echo "== encoding key\n";
foreach ([false, true] as $binary) {
    $m = new Memcached();
    $m->setOption(Memcached::OPT_BINARY_PROTOCOL, $binary);
    $m->setOption(Memcached::OPT_COMPRESSION, false);
    $m->addServer('127.0.0.1', $p1);
    $raw = new Memcached();
    $raw->addServer('127.0.0.1', $p1);
    show($m, "setEncodingKey binary=" . (int)$binary, $m->setEncodingKey('0123456789abcdefghijklmnopqrstuvwxyz!'));
    show($m, 'set secret', $m->set('secret', 'a secret value'));
    show($m, 'get secret', $binary ? bin2hex($m->get('secret')) : $m->get('secret'));
    show($m, 'append', $m->append('secret', 'more'));
    show($m, 'set array', $m->set('secret2', [1, 2, 3]));
    show($m, 'get array', $binary ? 'skipped' : $m->get('secret2'));
    show($raw, 'raw get', bin2hex($raw->get('secret')));
}

echo "== dead server\n";
foreach ([false, true] as $binary) {
    $m = new Memcached();
    $m->setOption(Memcached::OPT_BINARY_PROTOCOL, $binary);
    $m->setOption(Memcached::OPT_CONNECT_TIMEOUT, 500);
    $m->addServer('127.0.0.1', $dead);
    show($m, "dead set binary=" . (int)$binary, $m->set('a', 'b'));
    show($m, 'dead get', $m->get('a'));
    show($m, 'dead getMulti', $m->getMulti(['a', 'b']));
    show($m, 'dead delete', $m->delete('a'));
    show($m, 'dead increment', $m->increment('a'));
}
echo "== end\n";
