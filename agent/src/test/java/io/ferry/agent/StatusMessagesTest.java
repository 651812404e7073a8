package io.ferry.agent;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletionException;

import static org.assertj.core.api.Assertions.assertThat;

/** What a status message may hold: no terminal control characters, a bounded length, a reason. */
class StatusMessagesTest {

    @Test
    void controlCharactersAreBlankedButNewlinesAndTabsKept() {
        assertThat(StatusMessages.truncate("bad\u001b[31mred\u0007\nnext\tcol\u2028end"))
                .isEqualTo("bad [31mred \nnext\tcol end");
    }

    @Test
    void aLongMessageIsCutAndSaysSo() {
        String cut = StatusMessages.truncate("x".repeat(StatusMessages.MAX_MESSAGE + 10));
        assertThat(cut).hasSize(StatusMessages.MAX_MESSAGE + 3).endsWith("...");
        assertThat(StatusMessages.truncate(null)).isNull();
    }

    @Test
    void anErrorIsDescribedByItsCausesMessageOrElseItsType() {
        assertThat(StatusMessages.describe(new CompletionException(new IllegalStateException("disk gone"))))
                .isEqualTo("disk gone");
        assertThat(StatusMessages.describe(new IllegalStateException())).isEqualTo("IllegalStateException");
    }
}
