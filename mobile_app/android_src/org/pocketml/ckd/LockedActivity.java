package org.pocketml.ckd;

import android.content.Intent;
import android.os.Bundle;
import android.util.Log;

import org.kivy.android.PythonActivity;

/**
 * python-for-android's PythonActivity without its org.kivy.LAUNCH path.
 *
 * PythonActivity (v2026.05.09, UnpackFilesTask.onPostExecute) runs the main.py of whatever
 * folder an intent with the action org.kivy.LAUNCH names, and this activity is exported (it is
 * the launcher), so any other app could run its own code as this one, or crash it with a folder
 * it cannot read. Here such an intent is replaced, before PythonActivity ever sees it, by a plain
 * MAIN intent: the app always runs its own files. buildozer.spec names this class as
 * android.entrypoint (the activity p4a's manifest declares) and compiles it in with
 * android.add_src.
 */
public class LockedActivity extends PythonActivity {
    static final String FOREIGN_LAUNCH = "org.kivy.LAUNCH";

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        setIntent(ownIntent(getIntent()));
        super.onCreate(savedInstanceState);
    }

    @Override
    protected void onNewIntent(Intent intent) {
        Intent own = ownIntent(intent);
        setIntent(own);
        super.onNewIntent(own);
    }

    static Intent ownIntent(Intent intent) {
        if (intent == null || !FOREIGN_LAUNCH.equals(intent.getAction())) {
            return intent;
        }
        // logcat's "python" tag, where the emulator check looks
        Log.w("python", "pocketml: ignored an org.kivy.LAUNCH intent naming "
                + intent.getDataString() + "; running this app's own files");
        return new Intent(Intent.ACTION_MAIN);
    }
}
