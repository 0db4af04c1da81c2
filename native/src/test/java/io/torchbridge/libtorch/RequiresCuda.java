package io.torchbridge.libtorch;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Runs a test only where libtorch sees a CUDA device. Elsewhere (CI has no GPU) the test is
 * reported as skipped, with the reason, and a line on stderr says plainly that the CUDA checks
 * did not run; it never counts as passed. With {@code -Dtorchbridge.requireCuda=true} (what
 * {@code native/cuda-check.sh} sets) a missing device fails the test instead, so a GPU run
 * cannot pass by skipping. The compatibility tests use it too (this module's test jar).
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD})
@ExtendWith(RequiresCuda.Condition.class)
public @interface RequiresCuda {
    /** The condition behind the annotation. */
    final class Condition implements ExecutionCondition {
        @Override
        public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
            String why;
            try {
                why = Libtorch.whyNoCuda();
            } catch (Throwable t) {
                why = "libtorch did not load: " + t;
            }
            if (why == null) {
                return ConditionEvaluationResult.enabled("CUDA: " + Libtorch.cudaDeviceCount() + " device(s)");
            }
            if (Boolean.getBoolean("torchbridge.requireCuda")) {
                throw new AssertionError("CUDA is required here (-Dtorchbridge.requireCuda=true): " + why);
            }
            System.err.println("SKIPPED, CUDA checks did not run: " + context.getDisplayName() + ": " + why);
            return ConditionEvaluationResult.disabled("CUDA checks did not run: " + why);
        }
    }
}
