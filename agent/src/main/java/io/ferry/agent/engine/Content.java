package io.ferry.agent.engine;

/** Where a new volume's bytes come from: nothing, a snapshot, or another volume (exactly one or none). */
public record Content(String snapshot, String volume) {

    public static final Content EMPTY = new Content(null, null);

    public Content {
        if (snapshot != null && volume != null) {
            throw new IllegalArgumentException("a volume is created from a snapshot or a volume, not both");
        }
    }

    public static Content ofSnapshot(String snapshot) {
        return new Content(snapshot, null);
    }

    public static Content ofVolume(String volume) {
        return new Content(null, volume);
    }

    public boolean isEmpty() {
        return snapshot == null && volume == null;
    }
}
