package io.ferry.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/** Whose ownership marker an orphan carries; only {@link #THIS_CLUSTER} may ever be removed. */
public enum OrphanOwner {
    /** It carries this cluster's id (LVM tag, file attribute). */
    THIS_CLUSTER("this-cluster"),
    /** It carries another Ferry cluster's id: never adopted, changed or removed here. */
    OTHER_CLUSTER("other-cluster"),
    /** It carries no cluster id at all (somebody's file, a volume made before cluster ids): kept. */
    UNMARKED("unmarked");

    private final String value;

    OrphanOwner(String value) {
        this.value = value;
    }

    @JsonValue
    public String value() {
        return value;
    }

    @JsonCreator
    public static OrphanOwner parse(String value) {
        return Wire.parse(OrphanOwner.class, OrphanOwner::value, value, "orphan owner");
    }

    @Override
    public String toString() {
        return value;
    }
}
