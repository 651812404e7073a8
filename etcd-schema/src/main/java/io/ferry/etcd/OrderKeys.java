package io.ferry.etcd;

import io.ferry.model.Names;

/**
 * The layout operators' orders about orphans share (removals and adoptions): an order lives at
 * {@code <prefix>/<orders>/<node>/<id>}, where the node's agent watches, and the agent's answer at
 * {@code nodes/<node>/<orders>/<id>}, under the prefix the agent may write. One instance per kind of
 * order, so the layout is spelled once.
 */
final class OrderKeys {

    private final FerryKeys keys;
    private final String orders;

    OrderKeys(FerryKeys keys, String orders) {
        this.keys = keys;
        this.orders = orders;
    }

    /** Every node's orders of this kind. */
    String all() {
        return keys.prefix() + "/" + orders + "/";
    }

    String of(String node) {
        return all() + Names.nodeName(node) + "/";
    }

    String order(String node, String id) {
        return of(node) + Names.volumeName(id);
    }

    String answersOf(String node) {
        return keys.node(node) + orders + "/";
    }

    String answer(String node, String id) {
        return answersOf(node) + Names.volumeName(id);
    }
}
